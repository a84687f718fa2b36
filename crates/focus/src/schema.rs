//! The FOCUS 1.2 Cost and Usage schema as Arrow, plus Billow's `x_` columns.

use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::money::{PRECISION, SCALE};

/// The FOCUS version the lake's `focus` table follows.
pub const FOCUS_VERSION: &str = "1.2";

/// A FOCUS data type, as the spec names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FocusType {
    /// String.
    String,
    /// Decimal: stored as `Decimal128(38,12)`.
    Decimal,
    /// Date/Time: stored as `Timestamp(µs, UTC)`.
    DateTime,
    /// JSON object serialized as a string.
    Json,
}

/// Feature level of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Mandatory.
    Mandatory,
    /// Conditional: required when the provider supports the feature.
    Conditional,
    /// Recommended.
    Recommended,
}

/// One FOCUS column: spec name, type, whether nulls are allowed, feature level.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Column ID as the spec writes it.
    pub name: &'static str,
    /// Spec data type.
    pub kind: FocusType,
    /// Whether the spec allows nulls.
    pub nullable: bool,
    /// Feature level.
    pub level: Level,
}

const fn col(name: &'static str, kind: FocusType, nullable: bool, level: Level) -> Column {
    Column {
        name,
        kind,
        nullable,
        level,
    }
}

use FocusType::{DateTime as T, Decimal as D, Json as J, String as S};
use Level::{Conditional as C, Mandatory as M, Recommended as R};

/// The 57 columns of FOCUS 1.2 Cost and Usage, in the spec's alphabetical order.
pub const FOCUS_COLUMNS: [Column; 57] = [
    col("AvailabilityZone", S, true, R),
    col("BilledCost", D, false, M),
    col("BillingAccountId", S, false, M),
    col("BillingAccountName", S, true, M),
    col("BillingAccountType", S, true, C),
    col("BillingCurrency", S, false, M),
    col("BillingPeriodEnd", T, false, M),
    col("BillingPeriodStart", T, false, M),
    col("CapacityReservationId", S, true, C),
    col("CapacityReservationStatus", S, true, C),
    col("ChargeCategory", S, false, M),
    col("ChargeClass", S, true, M),
    col("ChargeDescription", S, true, M),
    col("ChargeFrequency", S, true, R),
    col("ChargePeriodEnd", T, false, M),
    col("ChargePeriodStart", T, false, M),
    col("CommitmentDiscountCategory", S, true, C),
    col("CommitmentDiscountId", S, true, C),
    col("CommitmentDiscountName", S, true, C),
    col("CommitmentDiscountQuantity", D, true, C),
    col("CommitmentDiscountStatus", S, true, C),
    col("CommitmentDiscountType", S, true, C),
    col("CommitmentDiscountUnit", S, true, C),
    col("ConsumedQuantity", D, true, C),
    col("ConsumedUnit", S, true, C),
    col("ContractedCost", D, false, M),
    col("ContractedUnitPrice", D, true, C),
    col("EffectiveCost", D, false, M),
    col("InvoiceId", S, true, R),
    col("InvoiceIssuerName", S, false, M),
    col("ListCost", D, false, M),
    col("ListUnitPrice", D, true, C),
    col("PricingCategory", S, true, C),
    col("PricingCurrency", S, true, C),
    col("PricingCurrencyContractedUnitPrice", D, true, C),
    col("PricingCurrencyEffectiveCost", D, true, C),
    col("PricingCurrencyListUnitPrice", D, true, C),
    col("PricingQuantity", D, true, M),
    col("PricingUnit", S, true, M),
    col("ProviderName", S, false, M),
    col("PublisherName", S, false, M),
    col("RegionId", S, true, C),
    col("RegionName", S, true, C),
    col("ResourceId", S, true, C),
    col("ResourceName", S, true, C),
    col("ResourceType", S, true, C),
    col("ServiceCategory", S, false, M),
    col("ServiceName", S, false, M),
    col("ServiceSubcategory", S, true, R),
    col("SkuId", S, true, C),
    col("SkuMeter", S, true, C),
    col("SkuPriceDetails", J, true, C),
    col("SkuPriceId", S, true, C),
    col("SubAccountId", S, true, C),
    col("SubAccountName", S, true, C),
    col("SubAccountType", S, true, C),
    col("Tags", J, true, C),
];

/// Billow's own columns. They follow the FOCUS columns, as the spec asks of custom columns.
pub mod x {
    /// Connection the row came from (partition column).
    pub const CONNECTION_ID: &str = "x_ConnectionId";
    /// Billing period `YYYY-MM` (partition column).
    pub const BILLING_PERIOD: &str = "x_BillingPeriod";
    /// Native format of the source (`aws-cur1`, ...).
    pub const SOURCE_FORMAT: &str = "x_SourceFormat";
    /// Source file name inside the export version.
    pub const SOURCE_FILE: &str = "x_SourceFile";
    /// Line of the row in its source file (1 = header).
    pub const SOURCE_LINE: &str = "x_SourceLine";
    /// Ingestion that wrote the row.
    pub const INGESTION_ID: &str = "x_IngestionId";
    /// Provider line item type (AWS `lineItem/LineItemType`).
    pub const LINE_ITEM_TYPE: &str = "x_LineItemType";
    /// Provider service code (AWS `lineItem/ProductCode`).
    pub const SERVICE_CODE: &str = "x_ServiceCode";
    /// Provider usage type (AWS `lineItem/UsageType`).
    pub const USAGE_TYPE: &str = "x_UsageType";
    /// Provider operation (AWS `lineItem/Operation`).
    pub const OPERATION: &str = "x_Operation";
    /// Legal entity that issued the invoice (AWS `bill/InvoicingEntity`).
    pub const INVOICING_ENTITY: &str = "x_InvoicingEntity";
    /// The source's own extension columns that neither FOCUS nor Billow define (Azure's and
    /// AWS's `x_*`, OCI's `oci_*` as `x_*`), as one JSON object of text values by column name.
    /// One column keeps every provider's extensions without a table schema per provider.
    pub const EXTENSIONS: &str = "x_Extensions";
    /// Every `x_` column, in table order (new columns go last: existing tables gain them).
    pub const ALL: [&str; 12] = [
        CONNECTION_ID,
        BILLING_PERIOD,
        SOURCE_FORMAT,
        SOURCE_FILE,
        SOURCE_LINE,
        INGESTION_ID,
        LINE_ITEM_TYPE,
        SERVICE_CODE,
        USAGE_TYPE,
        OPERATION,
        INVOICING_ENTITY,
        EXTENSIONS,
    ];
}

/// Arrow type of Billow's money, price and quantity columns.
pub fn decimal_type() -> DataType {
    DataType::Decimal128(PRECISION, SCALE)
}

/// Arrow type of FOCUS date/times.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn arrow_type(kind: FocusType) -> DataType {
    match kind {
        FocusType::String | FocusType::Json => DataType::Utf8,
        FocusType::Decimal => decimal_type(),
        FocusType::DateTime => timestamp_type(),
    }
}

/// FOCUS columns the lake requires on every row, whatever the source: without them a row
/// cannot be placed in its partition or counted in the money that reconciles. For the other
/// columns the lake keeps what the source says, nulls included; the spec's own nullability
/// is checked by [`crate::conformance`] and reported, not enforced by the table, because a
/// third party's FOCUS file that breaks it (the public FOCUS sample does) must still load.
pub const LAKE_REQUIRED: [&str; 9] = [
    "BilledCost",
    "BillingAccountId",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "EffectiveCost",
];

/// The schema of the lake's `focus` table: the 57 FOCUS columns, then the `x_` columns.
pub fn focus_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| {
        let mut fields: Vec<Field> = FOCUS_COLUMNS
            .iter()
            .map(|c| Field::new(c.name, arrow_type(c.kind), !LAKE_REQUIRED.contains(&c.name)))
            .collect();
        for name in x::ALL {
            let (ty, nullable) = match name {
                x::SOURCE_LINE => (DataType::Int64, false),
                x::CONNECTION_ID | x::BILLING_PERIOD | x::SOURCE_FORMAT | x::INGESTION_ID => {
                    (DataType::Utf8, false)
                }
                _ => (DataType::Utf8, true),
            };
            fields.push(Field::new(name, ty, nullable));
        }
        Arc::new(Schema::new(fields))
    }))
}

/// Text columns whose values rarely repeat within a file: every resource has its own id. The
/// other text columns hold a few values each (an account, a service, a region, a currency).
pub const UNIQUE_TEXT_COLUMNS: [&str; 2] = ["ResourceId", "ResourceName"];

/// The key type of a keyed text column in [`keyed_focus_schema`].
pub type TextKey = arrow::datatypes::Int32Type;

/// The `focus` schema as readers hand batches over: every text column except
/// [`UNIQUE_TEXT_COLUMNS`] is keyed (`Dictionary(Int32, Utf8)`: each distinct value of the
/// batch once, and a key per row), so what follows a reader (the lake's Parquet encoding, its
/// rollups) numbers a row's values by key instead of comparing and hashing their text again.
/// Field names, order and nullability are those of [`focus_schema`], which the table stores;
/// [`plain_text`] turns such a batch back into one of [`focus_schema`].
pub fn keyed_focus_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| {
        let fields: Vec<Field> = focus_schema()
            .fields()
            .iter()
            .map(|f| {
                let keyed = *f.data_type() == DataType::Utf8
                    && !UNIQUE_TEXT_COLUMNS.contains(&f.name().as_str());
                if keyed {
                    Field::new(
                        f.name(),
                        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                        f.is_nullable(),
                    )
                } else {
                    f.as_ref().clone()
                }
            })
            .collect();
        Arc::new(Schema::new(fields))
    }))
}

/// A batch with every keyed text column cast back to `Utf8` (a batch of [`focus_schema`]
/// when given one of [`keyed_focus_schema`]); other columns are shared, not copied.
pub fn plain_text(
    batch: &arrow::array::RecordBatch,
) -> Result<arrow::array::RecordBatch, arrow::error::ArrowError> {
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        match field.data_type() {
            DataType::Dictionary(_, value) if **value == DataType::Utf8 => {
                columns.push(arrow::compute::cast(column, &DataType::Utf8)?);
                fields.push(field.as_ref().clone().with_data_type(DataType::Utf8));
            }
            _ => {
                columns.push(Arc::clone(column));
                fields.push(field.as_ref().clone());
            }
        }
    }
    arrow::array::RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// The spec column with this name, if it is one.
pub fn focus_column(name: &str) -> Option<&'static Column> {
    FOCUS_COLUMNS.iter().find(|c| c.name == name)
}

/// Index of a column in [`focus_schema`], usable in constants: [`column!`](crate::column)
/// evaluates it at compile time, so a misspelt name fails the build, and a reader's per-row
/// lookups cost nothing.
pub const fn column_index(name: &str) -> usize {
    const fn same(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }
    let mut i = 0;
    while i < FOCUS_COLUMNS.len() {
        if same(FOCUS_COLUMNS[i].name, name) {
            return i;
        }
        i += 1;
    }
    let mut j = 0;
    while j < x::ALL.len() {
        if same(x::ALL[j], name) {
            return FOCUS_COLUMNS.len() + j;
        }
        j += 1;
    }
    panic!("not a column of the focus schema")
}

/// The index of a named column of [`focus_schema`], computed at compile time:
/// `column!("BilledCost")`, `column!(x::SOURCE_LINE)`.
#[macro_export]
macro_rules! column {
    ($name:expr) => {{
        const INDEX: usize = $crate::schema::column_index($name);
        INDEX
    }};
}

/// Index of a column in [`focus_schema`] for a name known only at run time. Panics only on a
/// name that is not in the schema, which is a programming error caught by tests.
pub fn index_of(name: &str) -> usize {
    static INDEX: OnceLock<std::collections::HashMap<String, usize>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        focus_schema()
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name().clone(), i))
            .collect()
    });
    match index.get(name) {
        Some(&i) => i,
        None => panic!("{name} is not a column of the focus schema"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compile_time_indexes_match_the_schema() {
        for (i, field) in focus_schema().fields().iter().enumerate() {
            assert_eq!(column_index(field.name()), i, "{}", field.name());
        }
        assert_eq!(crate::column!("BilledCost"), 1);
        assert_eq!(crate::column!(x::SOURCE_LINE), index_of(x::SOURCE_LINE));
    }

    #[test]
    fn schema_has_all_57_focus_columns_then_x_columns() {
        let schema = focus_schema();
        assert_eq!(schema.fields().len(), 57 + x::ALL.len());
        let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let mut sorted = names[..57].to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, names[..57], "FOCUS columns keep the spec's order");
        assert!(names[57..].iter().all(|n| n.starts_with("x_")));
        assert_eq!(
            schema.field_with_name("BilledCost").unwrap().data_type(),
            &DataType::Decimal128(38, 12)
        );
        assert!(
            !schema
                .field_with_name("BillingAccountId")
                .unwrap()
                .is_nullable()
        );
        let mandatory = FOCUS_COLUMNS
            .iter()
            .filter(|c| c.level == Level::Mandatory)
            .count();
        assert_eq!(mandatory, 21);
        let recommended = FOCUS_COLUMNS
            .iter()
            .filter(|c| c.level == Level::Recommended)
            .count();
        assert_eq!(recommended, 4);
    }
}
