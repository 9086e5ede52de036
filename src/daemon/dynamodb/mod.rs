//! State and leadership in one DynamoDB table (`pk` string hash key, `sk` string range
//! key, TTL on `expires`), so that a replaced, redeployed or paused daemon task hands over
//! to another with every cooldown and stabilization window intact.
//!
//! Items, all under the deployment's `name` (several deployments may share a table):
//!
//! | pk | sk | what |
//! |---|---|---|
//! | `{name}#lease` | `lease` | the leader's lease: `holder`, `epoch`, `expires_at_ms` |
//! | `{name}#history` | target key | one target's history (`body`, JSON) and the `epoch` that wrote it |
//! | `{name}#journal#{target key}` | decision time `#` sequence | one journal entry (`body`), gone after `expires` |

mod lease;
mod store;
mod table;

pub use lease::DynamoLease;
pub use store::DynamoStore;
pub use table::Table;
