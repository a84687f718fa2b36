//! `billow`: every Billow capability from the terminal. The commands are thin: they parse
//! arguments, call the library crates and print. Exit codes: 0 success, 1 a check failed
//! (reconciliation mismatch), 2 an error.

mod admin;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use billow_focus::money::format_decimal;
use billow_focus::versions::FocusVersion;
use billow_ingest::{IngestOptions, Outcome, PeriodReport, Progress, ReconcileStatus};
use billow_lake::costs::{GroupBy, is_billing_period};
use billow_lake::{Lake, PartitionKey};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

/// `println!` that returns the write error instead of panicking, so `billow ... | head` ends
/// quietly on the broken pipe (main treats `BrokenPipe` as success).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(Stdout, $($arg)*)
    }};
}

mod demo;

/// Set when stdout's reader went away. Writers that wrap I/O errors in their own (Arrow's
/// CSV and JSON writers) would otherwise hide the broken pipe from `main`.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Standard output that remembers a broken pipe.
struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let result = std::io::stdout().lock().write(buf);
        if let Err(e) = &result
            && e.kind() == std::io::ErrorKind::BrokenPipe
        {
            STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        result
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().lock().flush()
    }
}

// Ingest builds and drops large column buffers batch after batch; mimalloc reuses them where the
// system allocator hands them back to the kernel and gets zeroed pages again (measured: ~20% of
// ingest CPU went to page clearing and regrowth copies).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tunes the allocator for work that frees and reallocates tens of MB of column buffers per
/// batch and thread (ingest, exports, queries).
///
/// - Freed memory is kept ten seconds instead of one. mimalloc (v3) hands freed memory back to
///   the kernel in sweeps: once the first purge it scheduled expires (`purge_delay` ×
///   `arena_purge_mult`, 1 s by default), everything freed since is purged, including what was
///   freed a moment before, and is page-faulted back as freshly zeroed pages (measured on a
///   5M-row month: about 1 GB purged and 40,000 page faults; at ten seconds, 7,000). Ten
///   seconds keeps them while a job runs and still returns them soon after it ends.
/// - Transparent huge pages are off for this process. Where the kernel's THP setting is
///   `always` (or `madvise`, which mimalloc asks for), every first touch of a 2 MiB range zeroes
///   all of it, and the allocator's churn made that about 15% of ingest CPU (measured on the
///   5M-row month: 5.3–7.6 s of system time with THP, 1.4 s without, the same user time).
#[allow(unsafe_code)]
fn tune_allocator() {
    // `mi_option_arena_purge_mult` and `mi_option_allow_thp` in mimalloc.h's `mi_option_e`
    // (v3); libmimalloc-sys names no constants for them.
    const MI_OPTION_ARENA_PURGE_MULT: libmimalloc_sys::mi_option_t = 24;
    const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;
    // SAFETY: each call stores an integer option that mimalloc reads when it next purges or
    // maps memory; it takes no pointers and runs once, first thing in `main`.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_PURGE_MULT, 10);
        // mimalloc reads this option once at its start (before `main`) to disable THP itself;
        // set now, it only stops it asking for huge pages on what it maps next.
        libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 0);
    }
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and changes this process's memory
    // policy; the kernel checks it at each page fault, so it covers memory mapped before too.
    // A kernel without it returns an error, and then the process simply keeps THP.
    // The arguments are passed as the `unsigned long`s the kernel reads (the kernel refuses the
    // call unless the last three are zero).
    unsafe {
        let (disable, unused): (libc::c_ulong, libc::c_ulong) = (1, 0);
        libc::prctl(libc::PR_SET_THP_DISABLE, disable, unused, unused, unused);
    }
}

/// Billow: multi-cloud FinOps. Ingests native billing exports into exact FOCUS rows in a Delta
/// lake, reconciles them to the provider's totals, and answers cost questions.
#[derive(Parser)]
#[command(name = "billow", version, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 a check failed (reconcile found a difference), 2 error."
)]
struct Cli {
    /// Data directory holding the lake, the raw zone and metadata.
    #[arg(
        long,
        global = true,
        env = "BILLOW_DATA",
        default_value = "billow-data"
    )]
    data_dir: PathBuf,
    /// Print nothing but results and errors.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(flatten)]
    store: admin::StoreArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest a billing export into the lake: `billow ingest <PATH> --connection <NAME>`
    /// recognizes the format from its manifest, header or content; or name it
    /// (`billow ingest aws-cur <PATH> ...`).
    Ingest(IngestCommand),
    /// Cost totals of a month grouped by one dimension.
    Costs(CostsArgs),
    /// Compare the lake's totals with the source's own exact totals; exit 1 on any difference.
    Reconcile(ReconcileArgs),
    /// Versions of a connection's month and what changed between them.
    History(HistoryArgs),
    /// Export lake rows.
    #[command(subcommand)]
    Export(ExportTarget),
    /// Run SQL over the lake (tables focus, ingestions, ingestion_totals, ingestion_breakdown).
    Sql(SqlArgs),
    /// Generate a realistic multi-cloud organization (AWS, Azure, Google Cloud, DigitalOcean,
    /// OpenAI) in native formats, ingest it, and serve the dashboard with demo sign-ins.
    Demo(DemoArgs),
    /// Generate a synthetic billing delivery in a provider's native layout (AWS CUR, Azure EA
    /// actual + amortized exports, GCP billing export JSON, a DigitalOcean invoice, a Cost
    /// Explorer response, OpenAI Costs pages) for tests and benchmarks.
    Synth(SynthArgs),
    /// Serve the REST API (JSON under /api/v1, OpenAPI at /api/v1/openapi.json, Prometheus
    /// metrics at /metrics).
    Serve(ServeArgs),
    /// Users of the default organization: add, list, grant roles and cost types, remove.
    #[command(subcommand)]
    User(admin::UserCommand),
    /// API tokens: create (the secret is shown once), list, revoke.
    #[command(subcommand)]
    Token(admin::TokenCommand),
    /// The master key that seals connection secrets: show, rotate.
    #[command(subcommand)]
    Key(admin::KeyCommand),
    /// Who changed what in the default organization, oldest first.
    Audit {
        /// Entries to show (the newest).
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "BILLOW_LISTEN")]
    listen: String,
    /// Largest billing file POST /api/v1/connections/{name}/uploads accepts, in MiB.
    #[arg(long, default_value_t = billow_server::DEFAULT_MAX_UPLOAD_BYTES >> 20, env = "BILLOW_MAX_UPLOAD_MB")]
    max_upload_mb: u64,
    /// The folder a connection's `source` must be in when set through the API (default:
    /// <data-dir>/exports); relative sources start here.
    #[arg(long, env = "BILLOW_EXPORTS_ROOT")]
    exports_root: Option<PathBuf>,
    /// How often every connection with a source is synced (`6h`, `30m`, `1d`; `0` never).
    /// The first round runs one interval after the start.
    #[arg(long, default_value = "6h", value_parser = sync_interval, env = "BILLOW_SYNC_EVERY")]
    sync_every: std::time::Duration,
}

fn sync_interval(text: &str) -> Result<std::time::Duration, String> {
    if text.trim() == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let every = humantime::parse_duration(text)
        .map_err(|e| format!("{e}: write it like 6h, 30m or 1d, or 0 for never"))?;
    if every < std::time::Duration::from_secs(60) {
        return Err("syncs run at most once a minute; write 1m or more, or 0 for never".into());
    }
    Ok(every)
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct IngestCommand {
    #[command(subcommand)]
    source: Option<IngestSource>,
    #[command(flatten)]
    detected: Option<IngestArgs>,
}

#[derive(Subcommand)]
enum IngestSource {
    /// AWS Cost and Usage Report: a report folder, a period folder, or one CUR file; CSV
    /// (plain, gzip, zip) or Parquet; CUR 1, Athena (snake_case) or CUR 2.0 column spelling.
    AwsCur(IngestArgs),
    /// AWS Cost Explorer GetCostAndUsage responses (`aws ce get-cost-and-usage --output json`),
    /// one file per page or a folder of them: coarse daily or monthly rows for accounts without
    /// a CUR, marked x_SourceFormat=aws-cost-explorer.
    #[command(name = "aws-ce")]
    AwsCe(IngestArgs),
    /// FOCUS files (1.0 to 1.4, CSV or Parquet) from a SaaS vendor, another tool or a
    /// provider's FOCUS export: one file or a folder of them. Every billing period the files
    /// hold is replaced.
    Focus(IngestArgs),
    /// Oracle Cloud cost reports (reports/cost-csv, .csv or .csv.gz): one file or a folder
    /// with all report files of the months to replace.
    Oci(IngestArgs),
    /// Azure cost details exports (EA, MCA or pay-as-you-go; CSV, gzip CSV or Parquet): an
    /// export folder with its manifest.json files (actual and amortized runs are found and
    /// paired, the latest run of each month wins), or one dataset's files with --dataset, or
    /// actual files plus --amortized files. Every month the files hold is replaced.
    Azure(AzureIngestArgs),
    /// A SaaS vendor's billing data as the vendor publishes it: OpenAI Costs API pages,
    /// Datadog historical/estimated cost responses, Snowflake USAGE_IN_CURRENCY_DAILY CSV,
    /// MongoDB Atlas invoices (JSON). One file or a folder; every month they cover is replaced.
    Saas(SaasIngestArgs),
    /// DigitalOcean invoices: the CSV download or JSON invoice item pages (a closed month, or
    /// the month-to-date preview); one file or a folder. Every month they are for is replaced.
    #[command(name = "digitalocean", alias = "do")]
    DigitalOcean(IngestArgs),
    /// Google Cloud billing export rows (standard or detailed): newline-delimited JSON or
    /// Parquet as BigQuery exports them, or a jobs.query response of SELECT TO_JSON_STRING(t);
    /// one file or a folder with all rows of the invoice months to replace.
    Gcp(IngestArgs),
}

#[derive(Args)]
struct IngestArgs {
    /// What to read: a file or a folder. For aws-cur a report folder (<prefix>/<report>/), a
    /// period folder (yyyymmdd-yyyymmdd/), a Data Exports export (<export>/data/) or a CUR
    /// file; for the other formats the export's files or their folder.
    path: PathBuf,
    /// Connection name the rows belong to (letters, digits, - _ .).
    #[arg(long)]
    connection: String,
    /// Re-ingest even when the lake already holds this exact delivery.
    #[arg(long)]
    force: bool,
    /// Decoding threads (default: one per core; a CUR file may be shared by several).
    #[arg(long)]
    threads: Option<usize>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct AzureIngestArgs {
    #[command(flatten)]
    common: IngestArgs,
    /// The dataset PATH holds when it has no manifest.json (default: actual).
    #[arg(long, value_enum)]
    dataset: Option<AzureDataset>,
    /// The amortized files (a file or folder) that pair with the actual files at PATH:
    /// BilledCost comes from actual, EffectiveCost from amortized.
    #[arg(long)]
    amortized: Option<PathBuf>,
}

#[derive(Args)]
struct SaasIngestArgs {
    /// Whose data PATH holds.
    #[arg(long, value_enum)]
    vendor: SaasVendor,
    #[command(flatten)]
    common: IngestArgs,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum SaasVendor {
    Openai,
    Datadog,
    Snowflake,
    MongodbAtlas,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum AzureDataset {
    Actual,
    Amortized,
    Usage,
    /// Cost Management's FocusCost export.
    Focus,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum OutputFormat {
    Table,
    Json,
    Csv,
}

#[derive(Args)]
struct OutputArgs {
    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV.
    #[arg(long)]
    csv: bool,
}

impl OutputArgs {
    fn format(&self) -> OutputFormat {
        if self.json {
            OutputFormat::Json
        } else if self.csv {
            OutputFormat::Csv
        } else {
            OutputFormat::Table
        }
    }
}

#[derive(Args)]
struct CostsArgs {
    /// Billing period YYYY-MM (default: every period).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    month: Option<String>,
    /// First billing period of a range, YYYY-MM.
    #[arg(long)]
    from: Option<String>,
    /// Last billing period of a range (inclusive), YYYY-MM.
    #[arg(long)]
    to: Option<String>,
    /// day, service, account, billing-account, region, category, connection or tag:<key>.
    #[arg(long, default_value = "service")]
    by: String,
    /// total, day (UTC day of the charge) or month (billing period): one row per group and
    /// time bucket.
    #[arg(long, default_value = "total")]
    granularity: String,
    /// Only rows where DIMENSION is VALUE (repeatable; values of one dimension are
    /// alternatives, different dimensions must all hold). `(none)` selects a null value,
    /// `(untagged)` a missing tag.
    #[arg(long, value_name = "DIMENSION=VALUE")]
    filter: Vec<String>,
    /// Only this connection (the same as --filter connection=NAME).
    #[arg(long)]
    connection: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args)]
struct ReconcileArgs {
    /// Billing period YYYY-MM (default: every period).
    #[arg(long)]
    month: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args)]
struct HistoryArgs {
    /// Connection.
    #[arg(long)]
    connection: String,
    /// Billing period YYYY-MM.
    #[arg(long)]
    month: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ExportTarget {
    /// FOCUS rows of a month as Parquet or CSV.
    Focus(ExportArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum FileFormat {
    Parquet,
    Csv,
}

#[derive(Args)]
struct ExportArgs {
    /// Billing period YYYY-MM.
    #[arg(long)]
    month: String,
    /// Only this connection.
    #[arg(long)]
    connection: Option<String>,
    /// File format.
    #[arg(long, value_enum, default_value = "parquet")]
    format: FileFormat,
    /// FOCUS version of the columns: 1.2 or 1.4.
    #[arg(long, default_value = "1.2")]
    focus_version: String,
    /// Output file; `-` writes CSV to stdout.
    #[arg(long, short)]
    output: PathBuf,
}

#[derive(Args)]
struct SqlArgs {
    /// The query.
    query: String,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args)]
struct DemoArgs {
    /// AWS rows per month (the other providers get a fraction).
    #[arg(long, default_value_t = 30_000)]
    rows: usize,
    /// Seed of the generated organization.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// The demo's today, YYYY-MM-DD (default: today, UTC): three closed months before its
    /// month, and its month through the day before.
    #[arg(long)]
    as_of: Option<String>,
    /// Address the dashboard listens on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "BILLOW_LISTEN")]
    listen: String,
    /// Prepare the data and users, then exit without serving.
    #[arg(long)]
    no_serve: bool,
}

/// Whose native format `billow synth` writes.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum SynthProvider {
    /// AWS CUR 1 (or CUR 2.0 with --cur2) in the S3 report layout.
    Aws,
    /// Azure EA cost details: actual and amortized exports with their manifests.
    Azure,
    /// Google Cloud detailed billing export rows as gzip JSON lines.
    Gcp,
    /// A DigitalOcean team's invoice CSV.
    Digitalocean,
    /// An AWS Cost Explorer GetCostAndUsage response (daily, by linked account and service).
    AwsCe,
    /// OpenAI Costs API pages.
    Openai,
}

#[derive(Args)]
struct SynthArgs {
    /// Output folder (AWS: the report lands in <out>/<prefix>/<report>/; Azure: the export
    /// folders; GCP: the export files).
    out: PathBuf,
    /// Provider format to write.
    #[arg(long, value_enum, default_value = "aws")]
    provider: SynthProvider,
    /// Billing period YYYY-MM.
    #[arg(long)]
    month: String,
    /// Rows.
    #[arg(long, default_value_t = 100_000)]
    rows: usize,
    /// Data files.
    #[arg(long, default_value_t = 2)]
    files: usize,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Revision: 0 is the first delivery, 1+ restate the month.
    #[arg(long, default_value_t = 0)]
    revision: u32,
    /// Spell the columns as CUR 2.0 (Data Exports): snake_case, `product` and `resource_tags`
    /// maps.
    #[arg(long)]
    cur2: bool,
    /// Write CUR 2.0 Parquet (double money, timestamp dates, map columns); implies --cur2.
    #[arg(long)]
    parquet: bool,
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BILLOW_LOG")
                // The Delta kernel logs an ERROR for a table directory without commits yet.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("warn,delta_kernel=off,buoyant_kernel=off")
                }),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(_) if STDOUT_CLOSED.load(std::sync::atomic::Ordering::SeqCst) => ExitCode::SUCCESS,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let quiet = cli.quiet;
    match cli.command {
        Command::User(command) => {
            let store = cli.store.open(&cli.data_dir).await?;
            admin::user(&store, command, quiet).await?;
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(command) => {
            let store = cli.store.open(&cli.data_dir).await?;
            admin::token(&store, command, quiet).await?;
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Key(command) => {
            let store = cli.store.open(&cli.data_dir).await?;
            admin::key(&store, command).await?;
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(args) => {
            let store = cli.store.open(&cli.data_dir).await?;
            let lake = open_lake(&cli.data_dir).await?;
            admin::adopt_lake_connections(&store, &lake).await?;
            let listener = tokio::net::TcpListener::bind(&args.listen)
                .await
                .with_context(|| format!("cannot listen on {} (is it in use?)", args.listen))?;
            let address = listener.local_addr()?;
            if !quiet {
                eprintln!(
                    "billow API on http://{address}/api/v1 (OpenAPI: http://{address}/api/v1/openapi.json); Ctrl-C stops it"
                );
            }
            let mut options = billow_server::ServerOptions::for_lake(&lake);
            options.max_upload_bytes = args.max_upload_mb.saturating_mul(1 << 20);
            if let Some(root) = args.exports_root {
                options.exports_root = root;
            }
            let state = billow_server::AppState::with_options(store.clone(), lake, options);
            if !args.sync_every.is_zero() {
                tokio::spawn(billow_server::schedule(state.clone(), args.sync_every));
            }
            billow_server::serve(listener, billow_server::app(state))
                .await
                .context("serving")?;
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { limit, json } => {
            let store = cli.store.open(&cli.data_dir).await?;
            admin::audit(&store, limit, json).await?;
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest(command) => {
            let (format, args) = match (command.source, command.detected) {
                (Some(source), _) => named_format(source),
                (None, Some(args)) => {
                    let found = billow_formats::detect::detect(&args.path)?;
                    use billow_formats::detect::Format as Found;
                    let (format, command) = match found {
                        Found::AwsCur => (Format::AwsCur, "aws-cur".to_string()),
                        Found::Focus => (Format::Focus, "focus".into()),
                        Found::OciCostReport => (Format::Oci, "oci".into()),
                        Found::GcpBillingExport => (Format::Gcp, "gcp".into()),
                        Found::DigitalOceanInvoice => (Format::DigitalOcean, "digitalocean".into()),
                        Found::AwsCostExplorer => (Format::AwsCe, "aws-ce".into()),
                        Found::Saas(vendor) => (
                            Format::Saas(vendor),
                            format!("saas --vendor {}", vendor.name()),
                        ),
                        Found::AzureCostDetails => (
                            Format::Azure {
                                dataset: None,
                                amortized: None,
                            },
                            "azure".into(),
                        ),
                    };
                    if !quiet && !args.json {
                        eprintln!(
                            "{}: recognized as `billow ingest {command}`",
                            args.path.display()
                        );
                    }
                    (format, args)
                }
                (None, None) => {
                    anyhow::bail!(
                        "give the export to ingest: `billow ingest <PATH> --connection <NAME>` (see `billow ingest --help`)"
                    )
                }
            };
            let lake = open_lake(&cli.data_dir).await?;
            let reports = ingest(
                &lake,
                format,
                &args.path,
                &args.connection,
                args.force,
                args.threads,
                quiet || args.json,
            )
            .await?;
            // The connection belongs to the default organization from now on (the server
            // shows it to that organization's members).
            let store = cli.store.open(&cli.data_dir).await?;
            admin::adopt_lake_connections(&store, &lake).await?;
            store.close().await;
            if args.json {
                let v: Vec<_> = reports.iter().map(report_json).collect();
                outln!("{}", serde_json::to_string_pretty(&v)?)?;
            } else if !quiet {
                for r in &reports {
                    print_report(r)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Costs(args) => {
            let query = cost_query(&args)?;
            let lake = open_lake(&cli.data_dir).await?;
            let rows = lake
                .query_costs(&billow_lake::Scope::everything(), &query)
                .await?;
            print_costs(args.output.format(), &rows)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reconcile(args) => {
            check_month(args.month.as_deref())?;
            let lake = open_lake(&cli.data_dir).await?;
            let rows = billow_ingest::reconcile(&lake, args.month.as_deref()).await?;
            let header = [
                "connection",
                "period",
                "billing_account",
                "charge_category",
                "source_billed",
                "lake_billed",
                "billed_diff",
                "source_effective",
                "lake_effective",
                "effective_diff",
                "bound",
                "rows",
                "status",
            ];
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.connection_id.clone(),
                        r.billing_period.clone(),
                        r.billing_account_id.clone(),
                        r.charge_category.clone(),
                        r.source_billed.clone(),
                        r.lake_billed.clone(),
                        r.billed_difference.clone(),
                        r.source_effective.clone(),
                        r.lake_effective.clone(),
                        r.effective_difference.clone(),
                        r.rounding_bound.clone(),
                        format!("{}/{}", r.lake_rows, r.source_rows),
                        r.status.as_str().to_string(),
                    ]
                })
                .collect();
            print_rows(args.output.format(), &header, &table, None)?;
            let bad = rows
                .iter()
                .filter(|r| r.status == ReconcileStatus::Mismatch)
                .count();
            if rows.is_empty() && !quiet {
                eprintln!(
                    "nothing to reconcile: no published data{}",
                    args.month.map(|m| format!(" for {m}")).unwrap_or_default()
                );
            }
            if bad > 0 {
                eprintln!(
                    "{bad} group(s) do not reconcile: re-ingest the period with --force, and report a bug if it persists"
                );
                return Ok(ExitCode::from(1));
            }
            if !quiet && args.output.format() == OutputFormat::Table && !rows.is_empty() {
                eprintln!("all {} group(s) reconcile", rows.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::History(args) => {
            check_month(Some(&args.month))?;
            let lake = open_lake(&cli.data_dir).await?;
            let key = PartitionKey {
                connection_id: args.connection,
                billing_period: args.month,
            };
            let versions = billow_ingest::history::history(&lake, &key).await?;
            if args.json {
                let v: Vec<_> = versions
                    .iter()
                    .map(|v| serde_json::json!({
                        "ingestion_id": v.ingestion_id, "export_version": v.export_version, "rows": v.rows,
                        "finished_at": chrono::DateTime::from_timestamp_micros(v.finished_at).map(|t| t.to_rfc3339()),
                        "current": v.current, "published": v.published,
                        "changes": v.changes.iter().map(|c| serde_json::json!({"billing_account_id": c.0, "charge_category": c.1, "before": c.2, "after": c.3, "delta": c.4})).collect::<Vec<_>>(),
                    }))
                    .collect();
                outln!("{}", serde_json::to_string_pretty(&v)?)?;
            } else {
                if versions.is_empty() {
                    outln!("no ingestion of {key}")?;
                }
                for v in &versions {
                    let when = chrono::DateTime::from_timestamp_micros(v.finished_at)
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default();
                    let state = if v.current {
                        "current"
                    } else if v.published {
                        "replaced"
                    } else {
                        "never published"
                    };
                    outln!(
                        "{} {} export {} rows {} ({state})",
                        when,
                        v.ingestion_id,
                        v.export_version.as_deref().unwrap_or("-"),
                        v.rows
                    )?;
                    for c in &v.changes {
                        outln!("    {} {}: {} -> {} ({})", c.0, c.1, c.2, c.3, c.4)?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export(ExportTarget::Focus(args)) => {
            check_month(Some(&args.month))?;
            let version = FocusVersion::parse(&args.focus_version).with_context(|| {
                format!("--focus-version {:?}: use 1.2 or 1.4", args.focus_version)
            })?;
            let lake = open_lake(&cli.data_dir).await?;
            let rows = export(&lake, &args, version).await?;
            if !quiet && args.output != Path::new("-") {
                eprintln!("wrote {rows} rows to {}", args.output.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Sql(args) => {
            let lake = open_lake(&cli.data_dir).await?;
            let batches = lake.sql(&args.query).await?;
            match args.output.format() {
                OutputFormat::Table => {
                    outln!("{}", arrow::util::pretty::pretty_format_batches(&batches)?)?
                }
                OutputFormat::Csv => {
                    let mut w = arrow::csv::WriterBuilder::new()
                        .with_header(true)
                        .build(Stdout);
                    for b in &batches {
                        w.write(b)?;
                    }
                }
                OutputFormat::Json => {
                    let mut w = arrow::json::ArrayWriter::new(Stdout);
                    for b in &batches {
                        w.write(b)?;
                    }
                    w.finish()?;
                    outln!()?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => demo::run(&cli.data_dir, &cli.store, &args, quiet).await,
        Command::Synth(args) => {
            check_month(Some(&args.month))?;
            let (y, m) = args.month.split_once('-').context("--month is YYYY-MM")?;
            let (year, month) = (y.parse()?, m.parse()?);
            match args.provider {
                SynthProvider::Aws => {}
                SynthProvider::Azure => {
                    let spec = billow_synth::azure::AzureSpec::new(args.seed, year, month)
                        .with_rows(args.rows)
                        .with_files(args.files);
                    let d = billow_synth::azure::write_exports(&args.out, &spec)?;
                    let (actual, amortized) = d.expected.source_totals();
                    outln!(
                        "{}",
                        serde_json::to_string_pretty(&serde_json::json!({
                            "root": d.root, "actual_files": d.actual, "amortized_files": d.amortized,
                            "actual_rows": d.expected.actual_rows, "amortized_rows": d.expected.amortized_rows,
                            "total_actual_cost": actual, "total_amortized_cost": amortized,
                        }))?
                    )?;
                    return Ok(ExitCode::SUCCESS);
                }
                SynthProvider::Digitalocean => {
                    let d = billow_synth::digitalocean::write_invoice(
                        &args.out, args.seed, year, month, args.rows,
                    )?;
                    let total: i128 = d.expected.by_category.values().sum();
                    outln!(
                        "{}",
                        serde_json::to_string_pretty(&serde_json::json!({
                            "file": d.path, "rows": d.expected.rows,
                            "total": billow_synth::format_scaled(total, 2),
                        }))?
                    )?;
                    return Ok(ExitCode::SUCCESS);
                }
                SynthProvider::AwsCe | SynthProvider::Openai => {
                    let r = if args.provider == SynthProvider::AwsCe {
                        // 8 services a day per account.
                        let accounts = (args.rows / (31 * 8)).max(1);
                        billow_synth::api_responses::write_cost_explorer(
                            &args.out, args.seed, year, month, accounts,
                        )?
                    } else {
                        // 7 line items a day per project.
                        let projects = (args.rows / (31 * 7)).max(1);
                        billow_synth::api_responses::write_openai_costs(
                            &args.out, args.seed, year, month, projects,
                        )?
                    };
                    outln!(
                        "{}",
                        serde_json::to_string_pretty(&serde_json::json!({
                            "files": r.files, "results": r.results,
                            "total_billed": billow_synth::format_scaled(r.billed.0, r.billed.1),
                            "total_effective": billow_synth::format_scaled(r.effective.0, r.effective.1),
                        }))?
                    )?;
                    return Ok(ExitCode::SUCCESS);
                }
                SynthProvider::Gcp => {
                    let spec = billow_synth::gcp::GcpSpec::new(args.seed, year, month)
                        .with_rows(args.rows)
                        .with_files(args.files);
                    let d = billow_synth::gcp::write_export(&args.out, &spec)?;
                    outln!(
                        "{}",
                        serde_json::to_string_pretty(&serde_json::json!({
                            "dir": d.dir, "files": d.files, "rows": d.expected.rows,
                            "net_cost": d.expected.net_total(),
                        }))?
                    )?;
                    return Ok(ExitCode::SUCCESS);
                }
            }
            let mut spec = billow_synth::aws_cur::CurSpec::new(args.seed, year, month)
                .with_rows(args.rows)
                .with_files(args.files)
                .with_revision(args.revision);
            if args.cur2 {
                spec = spec.with_cur2();
            }
            if args.parquet {
                spec = spec.with_parquet();
            }
            let d = billow_synth::aws_cur::write_delivery(&args.out, &spec)?;
            outln!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "report_dir": d.report_dir, "assembly_id": d.assembly_id, "files": d.files,
                    "rows": d.expected.rows, "total_billed": d.expected.total_billed(), "total_effective": d.expected.total_effective(),
                }))?
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn check_month(month: Option<&str>) -> Result<()> {
    if let Some(m) = month
        && !is_billing_period(m)
    {
        bail!("--month {m:?} is not a billing period: use YYYY-MM, e.g. 2026-10");
    }
    Ok(())
}

async fn open_lake(dir: &Path) -> Result<Lake> {
    Lake::open(dir)
        .await
        .with_context(|| format!("cannot open the data directory {}", dir.display()))
}

struct BarProgress {
    bar: ProgressBar,
    started: Instant,
    files: std::sync::atomic::AtomicUsize,
    files_done: std::sync::atomic::AtomicUsize,
    period: std::sync::Mutex<String>,
}

impl BarProgress {
    fn show(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let period = self.period.lock().map(|p| p.clone()).unwrap_or_default();
        self.bar.set_message(format!(
            "{period}: file {}/{}",
            self.files_done.load(Relaxed),
            self.files.load(Relaxed)
        ));
    }
}

impl Progress for BarProgress {
    fn period_started(&self, period: &str, files: usize, bytes: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.bar.reset();
        self.files.store(files, Relaxed);
        self.files_done.store(0, Relaxed);
        if let Ok(mut p) = self.period.lock() {
            *p = format!("{period} ({:.1} MB)", bytes as f64 / 1e6);
        }
        self.show();
    }
    fn rows_read(&self, rows: u64) {
        self.bar.inc(rows);
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar
            .set_prefix(format!("{:.0} rows/s", self.bar.position() as f64 / secs));
    }
    fn file_done(&self) {
        self.files_done
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.show();
    }
}

/// The format and arguments of a `billow ingest <format> ...` command.
fn named_format(source: IngestSource) -> (Format, IngestArgs) {
    match source {
        IngestSource::AwsCur(args) => (Format::AwsCur, args),
        IngestSource::Focus(args) => (Format::Focus, args),
        IngestSource::Oci(args) => (Format::Oci, args),
        IngestSource::Gcp(args) => (Format::Gcp, args),
        IngestSource::DigitalOcean(args) => (Format::DigitalOcean, args),
        IngestSource::AwsCe(args) => (Format::AwsCe, args),
        IngestSource::Saas(saas) => {
            use billow_formats::saas::Vendor;
            let vendor = match saas.vendor {
                SaasVendor::Openai => Vendor::OpenAi,
                SaasVendor::Datadog => Vendor::Datadog,
                SaasVendor::Snowflake => Vendor::Snowflake,
                SaasVendor::MongodbAtlas => Vendor::MongoDbAtlas,
            };
            (Format::Saas(vendor), saas.common)
        }
        IngestSource::Azure(azure) => {
            let dataset = azure.dataset.map(|d| match d {
                AzureDataset::Actual => billow_formats::azure::Dataset::Actual,
                AzureDataset::Amortized => billow_formats::azure::Dataset::Amortized,
                AzureDataset::Usage => billow_formats::azure::Dataset::Usage,
                AzureDataset::Focus => billow_formats::azure::Dataset::Focus,
            });
            (
                Format::Azure {
                    dataset,
                    amortized: azure.amortized,
                },
                azure.common,
            )
        }
    }
}

/// Formats `billow ingest` reads.
enum Format {
    AwsCur,
    Focus,
    Oci,
    Gcp,
    DigitalOcean,
    AwsCe,
    Saas(billow_formats::saas::Vendor),
    Azure {
        dataset: Option<billow_formats::azure::Dataset>,
        amortized: Option<PathBuf>,
    },
}

async fn ingest(
    lake: &Lake,
    format: Format,
    path: &Path,
    connection: &str,
    force: bool,
    threads: Option<usize>,
    quiet: bool,
) -> Result<Vec<PeriodReport>> {
    let mut options = IngestOptions::new(connection);
    options.force = force;
    if let Some(t) = threads {
        options.threads = t.max(1);
    }
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {human_pos} rows, {prefix}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let progress = BarProgress {
        bar,
        started: Instant::now(),
        files: Default::default(),
        files_done: Default::default(),
        period: Default::default(),
    };
    let result = match format {
        Format::AwsCur => billow_ingest::ingest_aws_cur(lake, path, &options, &progress).await,
        Format::Focus => billow_ingest::ingest_focus(lake, path, &options, &progress).await,
        Format::Oci => billow_ingest::ingest_oci(lake, path, &options, &progress).await,
        Format::Gcp => billow_ingest::ingest_gcp(lake, path, &options, &progress).await,
        Format::Saas(vendor) => {
            billow_ingest::ingest_saas(lake, vendor, path, &options, &progress).await
        }
        Format::AwsCe => {
            billow_ingest::ingest_aws_cost_explorer(lake, path, &options, &progress).await
        }
        Format::DigitalOcean => {
            let reports = billow_ingest::ingest_digitalocean(lake, path, &options, &progress).await;
            if reports.is_ok() {
                // A balance response saved beside the preview checks the month to date.
                let checks =
                    billow_ingest::check_digitalocean_balances(lake, path, &options.connection_id)
                        .await;
                for c in checks.into_iter().flatten() {
                    if !c.matches {
                        tracing::warn!(
                            "{}: DigitalOcean's balance of {} says month-to-date usage is {}, the \
                             invoice preview in the lake has {}; fetch the preview and the balance \
                             together to compare like with like",
                            c.billing_period,
                            c.generated_at,
                            c.balance_usage,
                            c.lake_usage
                        );
                    } else if !quiet {
                        eprintln!(
                            "{}: month-to-date usage {} matches DigitalOcean's balance of {}",
                            c.billing_period, c.lake_usage, c.generated_at
                        );
                    }
                }
            }
            reports
        }
        Format::Azure { dataset, amortized } => {
            billow_ingest::ingest_azure(
                lake,
                path,
                dataset,
                amortized.as_deref(),
                &options,
                &progress,
            )
            .await
        }
    };
    progress.bar.finish_and_clear();
    result.with_context(|| {
        format!(
            "ingesting {} failed; published data is unchanged for every billing period it holds (periods are replaced whole or not at all)",
            path.display()
        )
    })
}

fn report_json(r: &PeriodReport) -> serde_json::Value {
    let (outcome, version, replaced) = match &r.outcome {
        Outcome::Published {
            table_version,
            files_replaced,
        } => ("published", Some(*table_version), *files_replaced),
        Outcome::Unchanged => ("unchanged", None, 0),
    };
    serde_json::json!({
        "connection": r.key.connection_id, "billing_period": r.key.billing_period, "ingestion_id": r.ingestion_id,
        "export_version": r.export_version, "outcome": outcome, "table_version": version, "files_replaced": replaced,
        "rows": r.rows, "seconds": r.seconds,
        "source_totals": r.totals.groups.iter().map(|((a, c), g)| serde_json::json!({
            "billing_account_id": a, "charge_category": c, "rows": g.rows,
            "billed": g.billed.to_decimal_string(), "effective": g.effective.to_decimal_string(),
        })).collect::<Vec<_>>(),
    })
}

fn print_report(r: &PeriodReport) -> Result<()> {
    match &r.outcome {
        Outcome::Published {
            table_version,
            files_replaced,
        } => {
            let billed: billow_focus::money::ExactSum =
                r.totals
                    .groups
                    .values()
                    .fold(Default::default(), |mut s, g| {
                        let _ = s.merge(&g.billed);
                        s
                    });
            outln!(
                "{}: published {} rows as lake version {table_version}{} in {:.1}s ({:.0} rows/s); source billed total {}",
                r.key,
                r.rows,
                if *files_replaced > 0 {
                    format!(", replacing the previous version ({files_replaced} files)")
                } else {
                    String::new()
                },
                r.seconds,
                r.rows as f64 / r.seconds.max(1e-9),
                billed
            )?;
        }
        Outcome::Unchanged => outln!(
            "{}: unchanged, the lake already holds this delivery (ingestion {})",
            r.key,
            r.ingestion_id
        )?,
    }
    Ok(())
}

/// Prints cost groups with a TOTAL line (tables) — the same for `costs` and the demo.
/// The cost query of `billow costs`' arguments.
fn cost_query(args: &CostsArgs) -> Result<billow_lake::costs::CostQuery> {
    use billow_lake::costs::{CostQuery, Granularity};
    for month in [&args.month, &args.from, &args.to] {
        check_month(month.as_deref())?;
    }
    let by = GroupBy::parse(&args.by).with_context(|| {
        format!("--by {:?} is not one of day, service, account, billing-account, region, category, connection, tag:<key>", args.by)
    })?;
    let mut query = CostQuery::new(args.month.as_deref(), by);
    if args.month.is_none() {
        query.from = args.from.clone();
        query.to = args.to.clone();
    }
    query.granularity = Granularity::parse(&args.granularity).with_context(|| {
        format!(
            "--granularity {:?} is not one of total, day, month",
            args.granularity
        )
    })?;
    let mut filters: std::collections::BTreeMap<GroupBy, Vec<String>> = Default::default();
    if let Some(c) = &args.connection {
        filters
            .entry(GroupBy::Connection)
            .or_default()
            .push(c.clone());
    }
    for f in &args.filter {
        let (dimension, value) = f.split_once('=').with_context(|| {
            format!(
                "--filter {f:?} is not DIMENSION=VALUE, e.g. region=us-east-1 or tag:team=payments"
            )
        })?;
        let dimension = GroupBy::parse(dimension)
            .filter(|d| *d != GroupBy::Day)
            .with_context(|| format!("--filter {f:?}: {dimension:?} is not one of service, account, billing-account, region, category, connection, tag:<key>"))?;
        filters
            .entry(dimension)
            .or_default()
            .push(value.to_string());
    }
    for (dimension, values) in filters {
        query = query.filter(dimension, values);
    }
    query.validate()?;
    Ok(query)
}

fn print_costs(format: OutputFormat, rows: &[billow_lake::costs::CostRow]) -> Result<()> {
    let timed = rows.iter().any(|r| r.time.is_some());
    let mut header = vec!["key", "billed_cost", "effective_cost", "list_cost", "rows"];
    if timed {
        header.insert(0, "time");
    }
    // The CLI reads the whole lake: every sum is there.
    let v = |sum: Option<i128>| sum.unwrap_or(0);
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = vec![
                r.key.clone(),
                format_decimal(v(r.billed)),
                format_decimal(v(r.effective)),
                format_decimal(v(r.list)),
                r.rows.to_string(),
            ];
            if timed {
                row.insert(0, r.time.clone().unwrap_or_default());
            }
            row
        })
        .collect();
    let total = rows.iter().fold((0i128, 0i128, 0i128, 0u64), |t, r| {
        (
            t.0 + v(r.billed),
            t.1 + v(r.effective),
            t.2 + v(r.list),
            t.3 + r.rows,
        )
    });
    let mut total = vec![
        "TOTAL".into(),
        format_decimal(total.0),
        format_decimal(total.1),
        format_decimal(total.2),
        total.3.to_string(),
    ];
    if timed {
        total.insert(0, String::new());
    }
    print_rows(format, &header, &table, Some(total))
}

fn print_rows(
    format: OutputFormat,
    header: &[&str],
    rows: &[Vec<String>],
    total: Option<Vec<String>>,
) -> Result<()> {
    let mut out = Stdout;
    match format {
        OutputFormat::Json => {
            let v: Vec<serde_json::Map<String, serde_json::Value>> = rows
                .iter()
                .map(|r| {
                    header
                        .iter()
                        .zip(r)
                        .map(|(h, v)| (h.to_string(), serde_json::Value::from(v.as_str())))
                        .collect()
                })
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        OutputFormat::Csv => {
            writeln!(out, "{}", header.join(","))?;
            for r in rows {
                let cells: Vec<String> = r
                    .iter()
                    .map(|c| {
                        if c.contains([',', '"', '\n']) {
                            format!("\"{}\"", c.replace('"', "\"\""))
                        } else {
                            c.clone()
                        }
                    })
                    .collect();
                writeln!(out, "{}", cells.join(","))?;
            }
        }
        OutputFormat::Table => {
            let mut all: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
            all.extend(rows.iter().cloned());
            if let Some(t) = total {
                all.push(t);
            }
            let widths: Vec<usize> = (0..header.len())
                .map(|i| {
                    all.iter()
                        .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            for r in &all {
                let line: Vec<String> = r
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        if i == 0 {
                            format!("{c:<w$}", w = widths[i])
                        } else {
                            format!("{c:>w$}", w = widths[i])
                        }
                    })
                    .collect();
                writeln!(out, "{}", line.join("  ").trim_end())?;
            }
        }
    }
    Ok(())
}

async fn export(lake: &Lake, args: &ExportArgs, version: FocusVersion) -> Result<u64> {
    use billow_lake::export::ExportFormat;
    let format = match args.format {
        FileFormat::Parquet => ExportFormat::Parquet,
        FileFormat::Csv => ExportFormat::Csv,
    };
    let sink: Box<dyn Write + Send> = if args.output == Path::new("-") {
        if format == ExportFormat::Parquet {
            bail!("Parquet cannot be written to stdout; give --output FILE");
        }
        Box::new(Stdout)
    } else {
        Box::new(std::io::BufWriter::new(
            std::fs::File::create(&args.output)
                .with_context(|| format!("cannot create {}", args.output.display()))?,
        ))
    };
    Ok(lake
        .export_focus(
            &billow_lake::Scope::everything(),
            &args.month,
            args.connection.as_deref(),
            version,
            format,
            sink,
        )
        .await?)
}
