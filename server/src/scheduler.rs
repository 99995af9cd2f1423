//! Work that happens without anyone remembering it. Scheduled report packs:
//! at a fixed interval, each configured pack of reports is generated for the
//! past interval and written to a folder, so the weekly break-glass and
//! privacy review happens. Access-review due dates: every minute, each
//! tenant's campaigns past their due date have their overdue rule applied.
//! Future-dated HR events: every second, those whose effective time has come
//! are applied.
//! All of it is recorded in the ledger as done by `scheduler`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use hms_audit_ledger::Timestamp;
use hms_compliance_reports::ReportKind;
use hms_compliance_reports::kinds;
use hms_compliance_reports::render::{Format, render};
use serde::Deserialize;

use crate::audit::Provenance;
use crate::http::AppState;
use crate::reporting::{ReportScope, pull_pack};
use crate::tenancy::{Tenant, Tenants};

/// One pack of reports generated on a schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledPack {
    /// Names the pack's folders, e.g. `weekly-privacy`.
    pub name: String,
    /// The reports (kinds that need no patient or staff member).
    pub kinds: Vec<String>,
    /// How often, and over how far back, in seconds (604800 for weekly).
    pub every_seconds: u64,
    /// `csv` (default), `json`, `html` or `pdf`.
    #[serde(default = "default_format")]
    pub format: String,
    /// Where packs are written: `{folder}/{tenant}/{name}-{time}/{kind}.{format}`.
    pub folder: PathBuf,
    /// Only this tenant; every tenant when absent.
    #[serde(default)]
    pub tenant: Option<String>,
}

fn default_format() -> String {
    "csv".into()
}

impl ScheduledPack {
    /// Checks the pack can be generated unattended.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.every_seconds > 0,
            "reports.schedule `{}`: every_seconds must be positive",
            self.name
        );
        anyhow::ensure!(
            Format::parse(&self.format).is_some(),
            "reports.schedule `{}`: format is csv, json, html or pdf",
            self.name
        );
        for name in &self.kinds {
            let kind = ReportKind::parse(name)
                .with_context(|| format!("reports.schedule `{}`: no report `{name}`", self.name))?;
            kinds::ledger_query(kind, &hms_compliance_reports::Parameters::default()).map_err(
                |e| {
                    anyhow::anyhow!(
                        "reports.schedule `{}`: `{name}` cannot be scheduled: {e}",
                        self.name
                    )
                },
            )?;
        }
        Ok(())
    }
}

/// How often access-review due dates are enforced.
const DUE_DATE_SWEEP: Duration = Duration::from_secs(60);
/// How often future-dated HR events are checked for their effective time.
const HR_EVENT_SWEEP: Duration = Duration::from_secs(1);

/// Runs every pack on its interval, and the due-date sweep, for as long as
/// the service runs.
pub fn start(app: &AppState) {
    let hr = app.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(HR_EVENT_SWEEP);
        loop {
            interval.tick().await;
            if let Err(error) = apply_due_hr_events(&hr).await {
                tracing::error!(
                    error = format!("{error:#}"),
                    "scheduled HR events not applied"
                );
            }
        }
    });
    let sweeper = app.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(DUE_DATE_SWEEP);
        loop {
            interval.tick().await;
            if let Err(error) = enforce_due_dates(&sweeper.tenants).await {
                tracing::error!(
                    error = format!("{error:#}"),
                    "access-review due dates not enforced"
                );
            }
        }
    });
    for pack in app.settings.reports.schedule.clone() {
        let app = app.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_secs(pack.every_seconds));
            interval.tick().await;
            loop {
                interval.tick().await;
                if let Err(error) = run_pack(&pack, &app.tenants).await {
                    tracing::error!(pack = %pack.name, error = format!("{error:#}"), "scheduled report pack failed");
                }
            }
        });
    }
}

/// Applies every tenant's future-dated HR events whose time has come.
async fn apply_due_hr_events(app: &AppState) -> anyhow::Result<()> {
    for record in app.tenants.list().await? {
        let id = record.id.to_string();
        let Some(tenant) = app.tenants.get(&id).await? else {
            continue;
        };
        let applied = crate::http::hr::apply_due_events(app, &tenant)
            .await
            .map_err(|e| anyhow::anyhow!("tenant `{id}`: {e}"))?;
        if applied > 0 {
            tracing::info!(tenant = id, events = applied, "scheduled HR events applied");
        }
    }
    Ok(())
}

/// Applies the overdue rule of every tenant's campaigns past their due date.
async fn enforce_due_dates(tenants: &Tenants) -> anyhow::Result<()> {
    let by = Provenance::local("scheduler");
    for record in tenants.list().await? {
        let id = record.id.to_string();
        let tenant = tenants
            .get(&id)
            .await?
            .with_context(|| format!("unknown tenant `{id}`"))?;
        let changed = crate::reviews::enforce_due_dates(&tenant, &by).await?;
        if changed > 0 {
            tracing::info!(
                tenant = id,
                items = changed,
                "access-review overdue rule applied"
            );
        }
    }
    Ok(())
}

/// Generates `pack` for every tenant it covers, over the past interval.
async fn run_pack(pack: &ScheduledPack, tenants: &Tenants) -> anyhow::Result<()> {
    let ids: Vec<String> = match &pack.tenant {
        Some(id) => vec![id.clone()],
        None => tenants
            .list()
            .await?
            .into_iter()
            .map(|t| t.id.to_string())
            .collect(),
    };
    let until = Timestamp::now();
    let span = i64::try_from(pack.every_seconds)
        .unwrap_or(i64::MAX)
        .saturating_mul(1_000_000);
    let from = Timestamp::from_unix_micros(until.unix_micros().saturating_sub(span));
    for id in ids {
        let tenant = tenants
            .get(&id)
            .await?
            .with_context(|| format!("unknown tenant `{id}`"))?;
        write_pack(pack, &tenant, from, until).await?;
    }
    Ok(())
}

/// Generates `pack`'s reports over `from..until` for `tenant` from one
/// reading of the ledger and writes them to a new folder, which it returns.
pub async fn write_pack(
    pack: &ScheduledPack,
    tenant: &Tenant,
    from: Timestamp,
    until: Timestamp,
) -> anyhow::Result<PathBuf> {
    let format = Format::parse(&pack.format).context("format")?;
    let stamp = until.to_string().replace(':', "");
    let folder = pack
        .folder
        .join(tenant.id())
        .join(format!("{}-{stamp}", pack.name));
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create `{}`", folder.display()))?;
    let by = Provenance::local("scheduler");
    let kinds = pack
        .kinds
        .iter()
        .map(|name| ReportKind::parse(name).context("kind"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let scope = ReportScope {
        from: Some(from),
        until: Some(until),
        ..ReportScope::default()
    };
    let reports = pull_pack(tenant, &kinds, scope, &pack.format, &by, |_| {}).await?;
    for report in &reports {
        let name = report.kind.name();
        write(
            &folder.join(format!("{name}.{}", pack.format)),
            &render(report, format),
        )?;
    }
    tracing::info!(pack = %pack.name, tenant = tenant.id(), folder = %folder.display(), "report pack written");
    Ok(folder)
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write `{}`", path.display()))
}
