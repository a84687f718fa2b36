//! AWS product codes → FOCUS ServiceCategory and ServiceSubcategory.

use billow_focus::enums::ServiceCategory::{self, *};

/// Category and subcategory of an AWS `lineItem/ProductCode`; unknown codes are
/// `Other` / `Other (Other)` so a new AWS service never blocks ingestion.
pub fn service_category(product_code: &str) -> (ServiceCategory, &'static str) {
    match product_code {
        "AmazonEC2" | "AmazonLightsail" | "AmazonEC2CapacityBlocks" => {
            (Compute, "Virtual Machines")
        }
        "AWSLambda" | "AWSFargate" => (Compute, "Serverless Compute"),
        "AmazonEKS" | "AmazonECS" | "AmazonECR" | "AmazonECRPublic" => (Compute, "Containers"),
        "AmazonWorkSpaces" | "AmazonAppStream" => (Compute, "End User Computing"),
        "AmazonS3" | "AmazonS3GlacierDeepArchive" | "AmazonGlacier" => (Storage, "Object Storage"),
        "AmazonEFS" | "AmazonFSx" => (Storage, "File Storage"),
        "AWSBackup" => (Storage, "Backup Storage"),
        "AWSStorageGateway" => (Storage, "Storage Platforms"),
        "AmazonRDS" | "AmazonAurora" => (Databases, "Relational Databases"),
        "AmazonDynamoDB" | "AmazonDocDB" | "AmazonKeyspaces" | "AmazonNeptune" => {
            (Databases, "NoSQL Databases")
        }
        "AmazonElastiCache" | "AmazonMemoryDB" => (Databases, "Caching"),
        "AmazonRedshift" => (Databases, "Data Warehouses"),
        "AmazonTimestream" => (Databases, "Time Series Databases"),
        "AmazonCloudFront" => (Networking, "Content Delivery"),
        "AmazonVPC" | "AWSTransitGateway" | "AmazonVPN" => (Networking, "Network Infrastructure"),
        "AWSDirectConnect" | "AWSDataTransfer" => (Networking, "Network Connectivity"),
        "AmazonRoute53" => (Networking, "Network Routing"),
        "AWSELB" | "AWSGlobalAccelerator" => (Networking, "Application Networking"),
        "AWSNetworkFirewall" | "awswaf" | "AWSShield" => (Networking, "Network Security"),
        "AmazonCloudWatch" | "AWSCloudTrail" | "AWSXRay" => {
            (ManagementAndGovernance, "Observability")
        }
        "AWSConfig" | "AWSAuditManager" => (ManagementAndGovernance, "Compliance"),
        "AWSCostExplorer" | "AWSBudgets" => (ManagementAndGovernance, "Cost Management"),
        "AWSSupportBusiness"
        | "AWSSupportEnterprise"
        | "AWSDeveloperSupport"
        | "OCBPremiumSupport" => (ManagementAndGovernance, "Support"),
        "AWSSystemsManager" | "AWSCloudFormation" => (ManagementAndGovernance, "Architecture"),
        "awskms" | "AWSSecretsManager" | "AWSCertificateManager" => (Security, "Secret Management"),
        "AmazonGuardDuty" | "AmazonDetective" | "AmazonInspectorV2" => {
            (Security, "Threat Detection and Response")
        }
        "AWSSecurityHub" | "AmazonMacie" => (Security, "Security Posture Management"),
        "AmazonCognito" | "AWSIAMIdentityCenter" | "AWSDirectoryService" => {
            (Identity, "Identity and Access Management")
        }
        "AWSQueueService" | "AmazonSNS" | "AmazonMQ" | "AmazonEventBridge" | "AmazonSES" => {
            (Integration, "Messaging")
        }
        "AmazonApiGateway" | "AWSAppSync" => (Integration, "API Management"),
        "AmazonStates" | "AmazonMWAA" => (Integration, "Workflow Orchestration"),
        "AmazonKinesis" | "AmazonKinesisFirehose" | "AmazonMSK" => {
            (Analytics, "Streaming Analytics")
        }
        "AmazonAthena" | "AmazonEMR" => (Analytics, "Analytics Platforms"),
        "AWSGlue" | "AWSDataPipeline" => (Analytics, "Data Processing"),
        "AmazonES" | "AmazonOpenSearchService" => (Analytics, "Search"),
        "AmazonQuickSight" => (Analytics, "Business Intelligence"),
        "AmazonSageMaker" => (AiAndMachineLearning, "Machine Learning"),
        "AmazonBedrock" | "AmazonQ" => (AiAndMachineLearning, "Generative AI"),
        "AmazonComprehend" | "AmazonTranslate" | "AmazonTranscribe" | "AmazonPolly" => {
            (AiAndMachineLearning, "Natural Language Processing")
        }
        "AmazonLex" => (AiAndMachineLearning, "Bots"),
        "AWSCodeBuild" | "AWSCodePipeline" | "AWSCodeDeploy" => {
            (DeveloperTools, "Continuous Integration and Deployment")
        }
        "AWSCodeCommit" => (DeveloperTools, "Source Code Management"),
        "AWSCloud9" => (DeveloperTools, "Development Environments"),
        "AWSDatabaseMigrationSvc" | "AWSDataSync" | "AWSTransfer" => (Migration, "Data Migration"),
        "AWSApplicationMigrationSvc" => (Migration, "Resource Migration"),
        "AWSIoT" | "AWSIoTCore" => (InternetOfThings, "IoT Platforms"),
        "AmazonChime" | "AmazonConnect" | "AmazonWorkMail" => {
            (BusinessApplications, "Productivity and Collaboration")
        }
        "AWSAmplify" | "AWSElasticBeanstalk" | "AmazonAppRunner" => (Web, "Application Platforms"),
        "AmazonIVS" | "AWSElementalMediaConvert" => (Media, "Media Streaming"),
        _ => (Other, "Other (Other)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use billow_focus::enums::is_subcategory_of;

    #[test]
    fn every_mapped_subcategory_belongs_to_its_category() {
        for code in [
            "AmazonEC2",
            "AmazonS3",
            "AmazonRDS",
            "AWSLambda",
            "AmazonCloudWatch",
            "AWSCloudTrail",
            "awskms",
            "AmazonSNS",
            "Unknown",
        ] {
            let (cat, sub) = service_category(code);
            assert!(is_subcategory_of(cat, sub), "{code}: {sub} not in {cat}");
        }
    }
}
