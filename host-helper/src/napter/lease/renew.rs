//! A mapping kept for as long as its holder runs (a tunnel forward): renewed before it
//! expires, on the server's clock, with a margin that scales with the lifetime and at most one
//! create per renewal period; new connections go to the newest mapping; a replaced mapping is
//! kept while connections still run through it and released after its last one (or forgotten
//! at its expiry), so a renewal never cuts a connection.

use super::{Lease, Leases};
use crate::app::App;
use crate::error;
use crate::output;
use napsh_core::lease::{plan_retire, renew_margin_ms, renewal_due, Retire};
use napsh_core::Device;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The longest pause between two looks at the expiries.
const MAX_TICK: Duration = Duration::from_secs(20);

/// A mapping and the connections running through it.
#[derive(Debug, Clone)]
struct Counted {
    /// The mapping.
    lease: Lease,
    /// Connections through it now.
    open: Arc<AtomicUsize>,
}

/// What a [`Renewing`] holds.
#[derive(Debug)]
struct State {
    /// Where new connections go.
    current: Counted,
    /// Replaced mappings that still carry connections.
    retiring: Vec<Counted>,
    /// When this renewal last created a mapping (server clock).
    last_create_ms: Option<i64>,
}

/// One device port's mapping, renewed for as long as it is needed.
#[derive(Debug)]
pub struct Renewing {
    /// The device.
    device: Device,
    /// The device port.
    port: u16,
    /// The mappings.
    state: Mutex<State>,
}

/// A connection's hold on the mapping it went through; dropping it ends the hold.
#[derive(Debug)]
pub struct Ticket {
    /// Mapping address.
    pub ip: String,
    /// Mapping port.
    pub port: u16,
    /// The mapping's connection count.
    open: Arc<AtomicUsize>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Renewing {
    /// Starts from `lease`, created (or reused) for `device`'s `port` at server time `now`.
    pub fn new(lease: Lease, device: Device, port: u16, now: i64) -> Self {
        let last_create_ms = lease.created.then_some(now);
        Renewing {
            device,
            port,
            state: Mutex::new(State {
                current: Counted {
                    lease,
                    open: Arc::new(AtomicUsize::new(0)),
                },
                retiring: Vec::new(),
                last_create_ms,
            }),
        }
    }

    /// How often to look at the expiries of mappings `secs` long.
    pub fn tick_every(secs: u64) -> Duration {
        let lifetime = i64::try_from(secs).unwrap_or(i64::MAX / 1000) * 1000;
        let half_margin = u64::try_from(renew_margin_ms(lifetime) / 2).unwrap_or(1000);
        MAX_TICK.min(Duration::from_millis(half_margin.max(500)))
    }

    /// A hold on the current mapping for a new connection.
    pub fn checkout(&self) -> Ticket {
        let state = self.state.lock().expect("renewal lock");
        let c = &state.current;
        c.open.fetch_add(1, Ordering::SeqCst);
        Ticket {
            ip: c.lease.mapping.ip_address.clone(),
            port: c.lease.mapping.port,
            open: c.open.clone(),
        }
    }

    /// Renews the current mapping when due, and releases replaced ones that are done.
    pub async fn tick(&self, app: &App, leases: &Leases) {
        let now = leases.server_now();
        if self.due(leases, now) {
            self.renew(app, leases, now).await;
        }
        for done in self.finished(now) {
            leases.release(&done.lease, false).await;
        }
    }

    /// Whether the current mapping is inside its renewal margin (and no create happened this
    /// period).
    fn due(&self, leases: &Leases, now: i64) -> bool {
        let state = self.state.lock().expect("renewal lock");
        state.current.lease.expires_at_ms().is_some_and(|expiry| {
            renewal_due(expiry, leases.lifetime_ms(), state.last_create_ms, now)
        })
    }

    /// Gets the next mapping (the lease reuses or creates one) and sends new connections to it.
    async fn renew(&self, app: &App, leases: &Leases, now: i64) {
        let fresh = match leases.acquire_session(app, &self.device, self.port).await {
            Ok(fresh) => fresh,
            Err(e) => {
                return output::warn(&format!(
                    "renewing the mapping of device port {}: {}",
                    self.port,
                    error::one_line(&e)
                ))
            }
        };
        let mut state = self.state.lock().expect("renewal lock");
        if fresh.created {
            state.last_create_ms = Some(now);
        }
        let same = fresh.mapping.ip_address == state.current.lease.mapping.ip_address
            && fresh.mapping.port == state.current.lease.mapping.port;
        if same {
            return;
        }
        tracing::info!(port = self.port, ip = %fresh.mapping.ip_address, mapped = fresh.mapping.port, "mapping renewed");
        let old = std::mem::replace(
            &mut state.current,
            Counted {
                lease: fresh,
                open: Arc::new(AtomicUsize::new(0)),
            },
        );
        state.retiring.push(old);
    }

    /// Takes out the replaced mappings whose last connection ended or which expired.
    fn finished(&self, now: i64) -> Vec<Counted> {
        let mut state = self.state.lock().expect("renewal lock");
        let (done, kept): (Vec<Counted>, Vec<Counted>) = state.retiring.drain(..).partition(|c| {
            let expiry = c.lease.expires_at_ms().unwrap_or(i64::MIN);
            plan_retire(c.open.load(Ordering::SeqCst), expiry, now) != Retire::Keep
        });
        state.retiring = kept;
        done
    }

    /// Releases every mapping it holds (the holder stops).
    pub async fn release_all(&self, leases: &Leases) {
        let all: Vec<Counted> = {
            let mut state = self.state.lock().expect("renewal lock");
            let mut all: Vec<Counted> = state.retiring.drain(..).collect();
            all.push(state.current.clone());
            all
        };
        for c in all {
            leases.release(&c.lease, false).await;
        }
    }
}
