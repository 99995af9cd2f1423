//! `hms-ach report KIND …`: a compliance report from a tenant's ledger and
//! directory, to standard output or a file, with a progress bar while the
//! ledger is read. The pull is recorded in the ledger as made by `cli`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use hms_audit_ledger::Timestamp;
use hms_compliance_reports::ReportKind;
use hms_compliance_reports::render::{Format, render};
use indicatif::{ProgressBar, ProgressStyle};

use super::ledger::find;
use hms_governance::audit::Provenance;
use hms_governance::reporting::{ReportScope, pull};
use hms_governance::tenancy::Tenants;

/// The report and its parameters.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Which report: patient-access, user-activity, break-glass, vip-access,
    /// outside-care-team, after-hours, denied-spikes, unusual-volume,
    /// failed-logins, after-termination, privileged-accounts,
    /// dormant-accounts, role-changes, ledger-integrity.
    kind: String,
    /// The tenant.
    #[arg(long)]
    tenant: String,
    /// Start of the range (RFC 3339), inclusive.
    #[arg(long)]
    from: Option<String>,
    /// End of the range (RFC 3339), exclusive.
    #[arg(long)]
    until: Option<String>,
    /// One patient.
    #[arg(long)]
    patient: Option<String>,
    /// One staff member.
    #[arg(long)]
    staff: Option<String>,
    /// Only staff of this department.
    #[arg(long)]
    department: Option<String>,
    /// Only staff holding this role.
    #[arg(long)]
    role: Option<String>,
    /// One access-review campaign (the access-reviews report).
    #[arg(long)]
    campaign: Option<String>,
    /// json, csv, html or pdf.
    #[arg(long, default_value = "json")]
    format: String,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn time(text: Option<&str>, name: &str) -> anyhow::Result<Option<Timestamp>> {
    text.map(|t| {
        Timestamp::parse_rfc3339(t).with_context(|| format!("--{name} `{t}` is not RFC 3339"))
    })
    .transpose()
}

/// Builds the report and writes it.
pub async fn run(args: ReportArgs, tenants: Tenants) -> anyhow::Result<i32> {
    let kind = ReportKind::parse(&args.kind)
        .with_context(|| format!("no report `{}` (see --help)", args.kind))?;
    let format = Format::parse(&args.format).context("--format is json, csv, html or pdf")?;
    let scope = ReportScope {
        from: time(args.from.as_deref(), "from")?,
        until: time(args.until.as_deref(), "until")?,
        patient: args.patient,
        staff: args.staff,
        department: args.department,
        role: args.role,
        campaign: args.campaign,
    };
    let tenant = find(&tenants, &args.tenant).await?;
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} reading the ledger: {pos} entries") {
        bar.set_style(style);
    }
    let by = Provenance::local(hms_governance::audit::Actor::Cli);
    let report = pull(&tenant, kind, scope, &args.format, &by, |read| {
        bar.set_position(read)
    })
    .await?;
    bar.finish_and_clear();
    let bytes = render(&report, format);
    match args.out {
        Some(path) => {
            std::fs::write(&path, bytes)
                .with_context(|| format!("cannot write `{}`", path.display()))?;
            eprintln!("{} rows written to {}", report.rows.len(), path.display());
        }
        None => std::io::Write::write_all(&mut std::io::stdout(), &bytes)?,
    }
    Ok(0)
}
