//! Work that happens without anyone remembering it. Scheduled report packs:
//! at a fixed interval, each configured pack of reports is generated for the
//! past interval and written to a folder, so the weekly break-glass and
//! privacy review happens. Due work: every second, the tenants the catalog
//! lists as having work due (a future-dated HR event whose effective time
//! has come, a review campaign past its due date) are opened, and only
//! those; the work is done and the next time noted.
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
use hms_governance::tenancy::{ChangeError, Tenant, Tenants};

use crate::leader::Leadership;

/// How often the catalog is read for tenants with work due.
const DUE_WORK_SWEEP: Duration = Duration::from_secs(1);
/// How often a campaign past its due date and still open is looked at again.
const DUE_DATE_RECHECK: Duration = Duration::from_secs(60);

/// Runs every pack on its interval, the sweeps and the feed pruning, for as
/// long as the service runs, on the node that holds the scheduler's lock.
pub fn start(tenants: &Arc<Tenants>, packs: &[ScheduledPack]) {
    let leader = Arc::new(Leadership::new(tenants.catalog_url()));
    every(
        (DUE_WORK_SWEEP, First::AtOnce),
        &leader,
        tenants,
        |tenants| async move {
            do_due_work(&tenants)
                .await
                .context("scheduled work not done")
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

/// Opens each tenant the catalog lists as having work due (and only
/// those), does it, and notes when it next has some.
async fn do_due_work(tenants: &Tenants) -> anyhow::Result<()> {
    for woken in tenants.catalog().due_for_work(Timestamp::now()).await? {
        let id = woken.tenant.to_string();
        // A suspended tenant's work waits until it is resumed.
        let Some(tenant) = served_unless_suspended(tenants, &id).await? else {
            continue;
        };
        match due_work_of(&tenant).await {
            Ok(next) => tenants.catalog().sleep_until(&woken, next).await?,
            Err(error) => {
                tracing::error!(
                    tenant = id,
                    error = format!("{error:#}"),
                    "scheduled work failed"
                );
            }
        }
    }
    Ok(())
}

/// Applies the tenant's future-dated HR events whose time has come and the
/// overdue rule of its campaigns past their due date; when it next has work.
async fn due_work_of(tenant: &Tenant) -> anyhow::Result<Option<Timestamp>> {
    let id = tenant.id();
    let applied = hms_governance::hr::apply_due_events(tenant).await?;
    if applied > 0 {
        tracing::info!(tenant = id, events = applied, "scheduled HR events applied");
    }
    let by = Provenance::local(hms_governance::audit::Actor::Scheduler);
    let changed = hms_governance::reviews::enforce_due_dates(tenant, &by).await?;
    if changed > 0 {
        tracing::info!(
            tenant = id,
            items = changed,
            "access-review overdue rule applied"
        );
    }
    let recheck = Timestamp::now().unix_micros() + micros(DUE_DATE_RECHECK);
    let campaigns = hms_governance::reviews::next_due(tenant)
        .await?
        .map(|due| Timestamp::from_unix_micros(due.unix_micros().max(recheck)));
    let hr = hms_governance::hr::next_due(tenant).await?;
    Ok(campaigns.into_iter().chain(hr).min())
}

/// Tenant `id`, opened; `None` when it is suspended.
async fn served_unless_suspended(
    tenants: &Tenants,
    id: &str,
) -> anyhow::Result<Option<Arc<Tenant>>> {
    match tenants.get(id).await {
        Err(ChangeError::Suspended(_)) => Ok(None),
        opened => Ok(Some(
            opened?.with_context(|| format!("unknown tenant `{id}`"))?,
        )),
    }
}

fn micros(span: Duration) -> i64 {
    i64::try_from(span.as_micros()).unwrap_or(i64::MAX)
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
        let Some(tenant) = served_unless_suspended(tenants, &id).await? else {
            continue;
        };
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
