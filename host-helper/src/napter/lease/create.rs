//! Creating a mapping for the lease: the create call; its answer checked against what was
//! asked (when it is not, what the request made, as the SIM's own list shows it, is deleted
//! again — never by the answer's word alone); after an answer that was lost, the adoption of only a mapping the request
//! created (judged on the server's clock); and the record of the new mapping.

use super::{Lease, Leases};
use crate::error::{self, NapshError};
use crate::napter::mapping::{self, Holder};
use crate::state::paths::mono_ms;
use anyhow::{Context, Result};
use napsh_core::lease::{self as decide, Want};
use napsh_core::messages::ErrorKind;
use napsh_core::sanitize::for_terminal;
use napsh_core::server_clock::ServerClock;
use napsh_core::soracom::PortMapping;

impl Leases {
    /// Creates a mapping for `want` held by `holder`, checked, adopted when the answer was
    /// lost, and recorded (deleted again when it cannot be recorded).
    pub(super) async fn create(&self, want: &Want<'_>, holder: &Holder) -> Result<Lease> {
        let sent_mono = mono_ms();
        let sent_clock = self.client.server_clock();
        let answer = mapping::post_create(
            &self.client,
            want.sim_id,
            want.device_port,
            self.secs,
            self.source,
        )
        .await;
        let created = match answer {
            Ok(m) => {
                self.anchor(&m, sent_mono);
                self.checked(want, m, sent_mono, sent_clock).await?
            }
            Err(err) if uncertain(&err) => self.adopt(want, err, sent_mono, sent_clock).await?,
            Err(err) => return Err(err),
        };
        let lease = Lease {
            mapping: created,
            reused: false,
            created: true,
            sim_id: want.sim_id.to_string(),
            imsis: want.imsis.to_vec(),
        };
        let owners = holder.owner().cloned().into_iter().collect();
        if let Err(e) = self.record(&lease, owners, *holder == Holder::Kept) {
            let _ = self.delete_checked(&lease).await;
            return Err(
                e.context("recording the new mapping in the registry (it was deleted again)")
            );
        }
        Ok(lease)
    }

    /// Without a `Date` header so far, a fresh mapping's `createdTime` anchors the server's
    /// clock (it was stamped moments before the answer).
    fn anchor(&self, m: &PortMapping, sent_mono: u64) {
        if self.client.server_clock().is_none() {
            if let Some(created) = m.created_time {
                self.client.note_server_time(created, sent_mono);
            }
        }
    }

    /// The create answer, if it is the mapping asked for. Otherwise what the request made
    /// (the SIM's own list: created since the request left, recorded by no napsh) is deleted
    /// again — never by the answer's word alone — and the create fails.
    async fn checked(
        &self,
        want: &Want<'_>,
        m: PortMapping,
        sent_mono: u64,
        sent_clock: Option<ServerClock>,
    ) -> Result<PortMapping> {
        let mismatch = match decide::check_created(want, &m, Some(self.server_now())) {
            Ok(()) => return Ok(m),
            Err(mismatch) => mismatch,
        };
        let fate = match self.undo_create(want, sent_mono, sent_clock).await {
            Ok(0) => "nothing shows what it created, so napsh deleted nothing".to_string(),
            Ok(n) => format!("napsh deleted the {n} mapping(s) it made again"),
            Err(_) => "napsh could not check what it created; it expires by itself".to_string(),
        };
        Err(NapshError::new(
            ErrorKind::Api,
            format!(
                "Soracom answered the create for SIM {} with a mapping that is not what was asked: {} ({fate})",
                for_terminal(want.sim_id),
                mismatch.describe(want)
            ),
        )
        .hint("this looks like an API change or a broken proxy: run with -vv and report it")
        .into())
    }

    /// Deletes what a refused create made: the SIM's mappings created since the request left
    /// (server clock) that no napsh records; how many were deleted.
    async fn undo_create(
        &self,
        want: &Want<'_>,
        sent_mono: u64,
        sent_clock: Option<ServerClock>,
    ) -> Result<usize> {
        let listed = mapping::list_for_sim(&self.client, want.sim_id).await?;
        let clock = sent_clock
            .or_else(|| self.client.server_clock())
            .context("no server time is known")?;
        let held = self.held();
        let made = decide::created_since(
            want.sim_id,
            want.imsis,
            &listed,
            clock.now(sent_mono),
            &held,
        );
        for m in &made {
            mapping::delete(&self.client, &m.ip_address, m.port).await?;
        }
        Ok(made.len())
    }

    /// Every endpoint some napsh records (held, so never adopted or undone).
    fn held(&self) -> Vec<(String, u16)> {
        self.registry
            .entries()
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.ip_address, e.port))
            .collect()
    }

    /// After a create whose answer was lost: the mapping it created anyway, if the SIM's own
    /// list shows one created after the request left (server clock), with exactly our source
    /// range and recorded by no other napsh; otherwise the original error.
    async fn adopt(
        &self,
        want: &Want<'_>,
        err: anyhow::Error,
        sent_mono: u64,
        sent_clock: Option<ServerClock>,
    ) -> Result<PortMapping> {
        tracing::info!("create failed uncertainly: did it create a mapping anyway?");
        let Ok(listed) = mapping::list_for_sim(&self.client, want.sim_id).await else {
            return Err(err);
        };
        let Some(clock) = sent_clock.or_else(|| self.client.server_clock()) else {
            tracing::info!("no server time known: nothing can be adopted safely");
            return Err(err);
        };
        let held = self.held();
        let sent_at = clock.now(sent_mono);
        match decide::adoptable(want, &listed, sent_at, &held, self.server_now()) {
            Some(m) => {
                tracing::info!(ip = %m.ip_address, port = m.port, "the failed create did create a mapping: adopted");
                Ok(m.clone())
            }
            None => Err(err),
        }
    }
}

/// Whether a failed create may have happened anyway (a 5xx, a timeout, a lost connection,
/// an unreadable answer).
fn uncertain(err: &anyhow::Error) -> bool {
    matches!(
        error::kind_of(err),
        ErrorKind::Api | ErrorKind::Network | ErrorKind::Timeout
    )
}
