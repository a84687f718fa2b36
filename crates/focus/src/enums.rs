//! The FOCUS enumerations, each with the exact spelling the spec uses.

macro_rules! focus_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $(#[doc = $text] $variant),+
        }

        impl $name {
            /// Every value, in the spec's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spec's spelling.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value with this exact spelling.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

focus_enum!(
    /// ChargeCategory: the highest-level classification of a charge.
    ChargeCategory { Usage => "Usage", Purchase => "Purchase", Tax => "Tax", Credit => "Credit", Adjustment => "Adjustment" }
);
focus_enum!(
    /// ChargeClass: `Correction` for charges that fix a previously invoiced period.
    ChargeClass { Correction => "Correction" }
);
focus_enum!(
    /// ChargeFrequency.
    ChargeFrequency { OneTime => "One-Time", Recurring => "Recurring", UsageBased => "Usage-Based" }
);
focus_enum!(
    /// PricingCategory.
    PricingCategory { Standard => "Standard", Dynamic => "Dynamic", Committed => "Committed", Other => "Other" }
);
focus_enum!(
    /// CommitmentDiscountCategory.
    CommitmentDiscountCategory { Spend => "Spend", Usage => "Usage" }
);
focus_enum!(
    /// CommitmentDiscountStatus.
    CommitmentDiscountStatus { Used => "Used", Unused => "Unused" }
);
focus_enum!(
    /// CapacityReservationStatus.
    CapacityReservationStatus { Used => "Used", Unused => "Unused" }
);
focus_enum!(
    /// ServiceCategory.
    ServiceCategory {
        AiAndMachineLearning => "AI and Machine Learning",
        Analytics => "Analytics",
        BusinessApplications => "Business Applications",
        Compute => "Compute",
        Databases => "Databases",
        DeveloperTools => "Developer Tools",
        Multicloud => "Multicloud",
        Identity => "Identity",
        Integration => "Integration",
        InternetOfThings => "Internet of Things",
        ManagementAndGovernance => "Management and Governance",
        Media => "Media",
        Migration => "Migration",
        Mobile => "Mobile",
        Networking => "Networking",
        Security => "Security",
        Storage => "Storage",
        Web => "Web",
        Other => "Other",
    }
);

/// The ServiceSubcategory values FOCUS 1.2 allows under a category (each category also allows
/// `Other (<Category>)`).
pub fn subcategories(category: ServiceCategory) -> &'static [&'static str] {
    use ServiceCategory::*;
    match category {
        AiAndMachineLearning => &[
            "AI Platforms",
            "Bots",
            "Generative AI",
            "Machine Learning",
            "Natural Language Processing",
        ],
        Analytics => &[
            "Analytics Platforms",
            "Business Intelligence",
            "Data Processing",
            "Search",
            "Streaming Analytics",
        ],
        BusinessApplications => &["Productivity and Collaboration"],
        Compute => &[
            "Containers",
            "End User Computing",
            "Quantum Compute",
            "Serverless Compute",
            "Virtual Machines",
        ],
        Databases => &[
            "Caching",
            "Data Warehouses",
            "Ledger Databases",
            "NoSQL Databases",
            "Relational Databases",
            "Time Series Databases",
        ],
        DeveloperTools => &[
            "Developer Platforms",
            "Continuous Integration and Deployment",
            "Development Environments",
            "Source Code Management",
            "Quality Assurance",
        ],
        Identity => &["Identity and Access Management"],
        Integration => &["API Management", "Messaging", "Workflow Orchestration"],
        InternetOfThings => &["IoT Analytics", "IoT Platforms"],
        ManagementAndGovernance => &[
            "Architecture",
            "Compliance",
            "Cost Management",
            "Data Governance",
            "Disaster Recovery",
            "Endpoint Management",
            "Observability",
            "Support",
        ],
        Media => &[
            "Content Creation",
            "Gaming",
            "Media Streaming",
            "Mixed Reality",
        ],
        Migration => &["Data Migration", "Resource Migration"],
        Mobile => &[],
        Multicloud => &["Multicloud Integration"],
        Networking => &[
            "Application Networking",
            "Content Delivery",
            "Network Connectivity",
            "Network Infrastructure",
            "Network Routing",
            "Network Security",
        ],
        Security => &[
            "Secret Management",
            "Security Posture Management",
            "Threat Detection and Response",
        ],
        Storage => &[
            "Backup Storage",
            "Block Storage",
            "File Storage",
            "Object Storage",
            "Storage Platforms",
        ],
        Web => &["Application Platforms"],
        Other => &[],
    }
}

/// Whether `sub` is an allowed ServiceSubcategory of `category`.
pub fn is_subcategory_of(category: ServiceCategory, sub: &str) -> bool {
    subcategories(category).contains(&sub)
        || sub
            .strip_prefix("Other (")
            .and_then(|s| s.strip_suffix(')'))
            == Some(category.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for c in ChargeCategory::ALL {
            assert_eq!(ChargeCategory::parse(c.as_str()), Some(*c));
        }
        assert_eq!(
            ChargeFrequency::parse("Usage-Based"),
            Some(ChargeFrequency::UsageBased)
        );
        assert_eq!(ChargeCategory::parse("Fee"), None);
        assert_eq!(ServiceCategory::ALL.len(), 19);
        assert!(is_subcategory_of(
            ServiceCategory::Compute,
            "Virtual Machines"
        ));
        assert!(is_subcategory_of(ServiceCategory::Mobile, "Other (Mobile)"));
        assert!(!is_subcategory_of(
            ServiceCategory::Compute,
            "Object Storage"
        ));
    }
}
