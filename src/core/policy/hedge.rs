//! Hedging: when an attempt is slow to produce its first content, the next target is started
//! alongside it, and whichever produces content first serves the call.
use serde::{Deserialize, Serialize};

/// Off unless configured. When an attempt has produced no content `after_ms` after it was
/// sent, the next target in the fallback order is started too; the first of the two to produce
/// content (for `chat`: a whole response) wins and the other is cancelled, its usage so far
/// reported in a `hedge-win` event. If one of them fails, the other carries on alone. At most
/// one hedge runs per attempt. `after_ms: 0` races both targets from the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HedgeConfig {
    pub after_ms: u64,
}
