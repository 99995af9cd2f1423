//! Work that happens without anyone remembering it. Scheduled report packs:
//! at a fixed interval, each configured pack of reports is generated for the
//! past interval and written to a folder, so the weekly break-glass and
//! privacy review happens. Access-review due dates: every minute, each
//! tenant's campaigns past their due date have their overdue rule applied.
//! Future-dated HR events: every second, those whose effective time has come
//! are applied.
//! Change feeds: every hour, lines older than a day are dropped.
//! All of it runs on one node (see [`crate::leader`]) and is recorded in the
//! ledger as done by `scheduler`; the other nodes apply what it changed
//! through the change feed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hms_audit_ledger::Timestamp;
use hms_compliance_reports::ReportKind;
use hms_compliance_reports::render::{Format, render};

use crate::config::ScheduledPack;
use hms_governance::audit::Provenance;
use hms_governance::reporting::{ReportScope, pull_pack};
use hms_governance::tenancy::{FEED_RETENTION, Tenant, Tenants};

use crate::leader::Leadership;

/// How often access-review due dates are enforced.
const DUE_DATE_SWEEP: Duration = Duration::from_secs(60);
/// How often future-dated HR events are checked for their effective time.
const HR_EVENT_SWEEP: Duration = Duration::from_secs(1);
/// How often the change feeds are pruned.
const FEED_PRUNING: Duration = Duration::from_secs(3600);

/// Runs every pack on its interval, the sweeps and the feed pruning, for as
/// long as the service runs, on the node that holds the scheduler's lock.
pub fn start(tenants: &Arc<Tenants>, packs: &[ScheduledPack]) {
    let leader = Arc::new(Leadership::new(tenants.catalog_url()));
    every(
        (HR_EVENT_SWEEP, First::AtOnce),
        &leader,
        tenants,
        |tenants| async move {
            apply_due_hr_events(&tenants)
                .await
                .context("scheduled HR events not applied")
        },
    );
    every(
        (DUE_DATE_SWEEP, First::AtOnce),
        &leader,
        tenants,
        |tenants| async move {
            enforce_due_dates(&tenants)
                .await
                .context("access-review due dates not enforced")
        },
    );
    every(
        (FEED_PRUNING, First::AtOnce),
        &leader,
        tenants,
        |tenants| async move {
            prune_change_feeds(&tenants)
                .await
                .context("change feeds not pruned")
        },
    );
    for pack in packs.iter().cloned() {
        let period = Duration::from_secs(pack.every_seconds);
        let pack = Arc::new(pack);
        every(
            (period, First::AfterOnePeriod),
            &leader,
            tenants,
            move |tenants| {
                let pack = Arc::clone(&pack);
                async move {
                    run_pack(&pack, &tenants)
                        .await
                        .with_context(|| format!("scheduled report pack `{}` failed", pack.name))
                }
            },
        );
    }
}

/// When a job first runs.
#[derive(Clone, Copy)]
enum First {
    AtOnce,
    AfterOnePeriod,
}

/// Runs `job` every `period` while this node is the scheduler.
fn every<F, Fut>(
    (period, first): (Duration, First),
    leader: &Arc<Leadership>,
    tenants: &Arc<Tenants>,
    job: F,
) where
    F: Fn(Arc<Tenants>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let leader = Arc::clone(leader);
    let tenants = Arc::clone(tenants);
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        if let First::AfterOnePeriod = first {
            interval.tick().await;
        }
        loop {
            interval.tick().await;
            if !leader.is_leader().await {
                continue;
            }
            if let Err(error) = job(Arc::clone(&tenants)).await {
                tracing::error!(error = format!("{error:#}"), "scheduled work failed");
            }
        }
    });
}

/// Drops every tenant's change-feed lines older than [`FEED_RETENTION`].
async fn prune_change_feeds(tenants: &Tenants) -> anyhow::Result<()> {
    let retention = i64::try_from(FEED_RETENTION.as_secs()).unwrap_or(i64::MAX);
    let before = time::OffsetDateTime::now_utc().unix_timestamp() - retention;
    for record in tenants.list().await? {
        let id = record.id.to_string();
        if let Some(tenant) = tenants.get(&id).await? {
            tenant.store.prune_changes(before).await?;
        }
    }
    Ok(())
}

/// Applies every tenant's future-dated HR events whose time has come.
async fn apply_due_hr_events(tenants: &Tenants) -> anyhow::Result<()> {
    for record in tenants.list().await? {
        let id = record.id.to_string();
        let Some(tenant) = tenants.get(&id).await? else {
            continue;
        };
        let applied = hms_governance::hr::apply_due_events(&tenant)
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
    let by = Provenance::local(hms_governance::audit::Actor::Scheduler);
    for record in tenants.list().await? {
        let id = record.id.to_string();
        let tenant = tenants
            .get(&id)
            .await?
            .with_context(|| format!("unknown tenant `{id}`"))?;
        let changed = hms_governance::reviews::enforce_due_dates(&tenant, &by).await?;
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
    let by = Provenance::local(hms_governance::audit::Actor::Scheduler);
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
