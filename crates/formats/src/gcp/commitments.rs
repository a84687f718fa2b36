//! Resource-based committed use discounts (CUDs), amortized onto the usage they covered.
//!
//! Google bills a resource-based commitment as fee rows (`Commitment v1: Cpu in Americas for
//! 1 Year`) and shows the usage it covered at its on-demand cost with a
//! `COMMITTED_USAGE_DISCOUNT` credit that cancels the covered part. FOCUS wants the fee as a
//! Purchase with EffectiveCost 0, the covered usage at BilledCost 0 carrying its share of the
//! fee as EffectiveCost, and the part nothing used as an Unused row. The export does not say
//! which fee paid for which usage. Google applies a region's commitments for one resource
//! (vCPU, memory, GPU, local SSD) to that region's usage of the resource, so the fees and the
//! covered usage of one (invoice month, billing account, UTC day, region, resource) form a
//! pool:
//! - utilization is the covered quantity over the committed quantity, capped at 1 (a row's
//!   covered quantity is its quantity × covered cost ÷ cost);
//! - the used part of the pool's fees is spread over the covered rows by covered on-demand
//!   cost, each share truncated to the lake's 10⁻¹² and the truncation dust given to the
//!   largest one;
//! - the rest is the pool's Unused row, written beside its first fee row; so the pool's
//!   EffectiveCost is its fees to the last digit.
//!
//! Quantities are binary floats in the export, so a shortfall of less than 10⁻⁹ of the
//! committed quantity is float noise, not idle capacity, and counts as full use.
//!
//! A pool is a day, not an hour, so fees and usage pair up whatever the rows' granularity;
//! within a day no hour can use more than its commitment, so the day's utilization is exact.
//! A first pass over every file of the export gathers the pools, because a fee and the usage
//! it paid for may sit in different files. Spend-based commitments (`Commitment - dollar based
//! v1`, credit `COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE`) are not amortized: their credits stay
//! Credit rows, as in Google's own FOCUS view.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use billow_focus::money;

/// `credits.type` of a resource-based commitment's discount.
pub(super) const CUD_CREDIT: &str = "COMMITTED_USAGE_DISCOUNT";

/// `CommitmentDiscountType` of a GCP commitment.
pub(super) const COMMITMENT_TYPE: &str = "Committed Use Discount";

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Whether a SKU is a resource-based commitment's fee (`Commitment v1: Ram in Iowa for 3
/// Years`); a spend-based one's (`Commitment - dollar based v1: ...`) is not.
pub(super) fn is_fee_sku(description: &str) -> bool {
    description.starts_with("Commitment v")
}

/// The resource a commitment or covered usage is of, from its SKU description (`N2 Instance
/// Core running in Americas`, `Commitment v1: Cpu in Americas for 1 Year`).
pub(super) fn resource_of(description: &str) -> &'static str {
    let (mut gpu, mut ssd, mut memory, mut cpu) = (false, false, false, false);
    for word in description.split(|c: char| !c.is_ascii_alphanumeric()) {
        match word.to_ascii_lowercase().as_str() {
            "gpu" | "gpus" => gpu = true,
            "ssd" => ssd = true,
            "ram" | "memory" => memory = true,
            "cpu" | "vcpu" | "core" | "cores" => cpu = true,
            _ => {}
        }
    }
    match (gpu, ssd, memory, cpu) {
        (true, ..) => "gpu",
        (_, true, ..) => "local-ssd",
        (_, _, true, _) => "memory",
        (_, _, _, true) => "vcpu",
        _ => "other",
    }
}

/// Where a fee or covered usage row pools.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct PoolKey {
    pub period: String,
    pub account: String,
    pub day: i64,
    pub region: String,
    pub resource: &'static str,
}

impl PoolKey {
    pub(super) fn new(
        period: &str,
        account: &str,
        start: i64,
        region: Option<&str>,
        sku: &str,
    ) -> Self {
        PoolKey {
            period: period.to_string(),
            account: account.to_string(),
            day: start.div_euclid(MICROS_PER_DAY),
            region: region.unwrap_or_default().to_string(),
            resource: resource_of(sku),
        }
    }

    /// `CommitmentDiscountId` of the pool's rows: Google applies a region's commitments for a
    /// resource together, so the pool, not one commitment, is what usage is linked to (the
    /// purchase row names its own commitment in ResourceId).
    pub(super) fn commitment_id(&self) -> String {
        let region = if self.region.is_empty() {
            "global"
        } else {
            &self.region
        };
        format!(
            "billingAccounts/{}/commitments/{region}/{}",
            self.account, self.resource
        )
    }
}

/// What a row adds to its pool.
#[derive(Debug, Clone, Copy)]
pub(super) enum Role {
    /// A commitment fee and the quantity it commits (in the pricing unit), when known.
    Fee {
        fee: i128,
        committed: Option<i128>,
        bounds: (i64, i64),
    },
    /// Usage a commitment covered: the covered on-demand cost and the covered quantity.
    Covered {
        covered: i128,
        quantity: Option<i128>,
    },
}

/// A pool while the files are read.
#[derive(Debug, Default)]
struct Gathered {
    fees: i128,
    committed: i128,
    covered_quantity: i128,
    quantities_known: bool,
    weights: Vec<i128>,
    largest: Option<(i128, PathBuf, u64)>,
    first_fee: Option<(PathBuf, u64)>,
    bounds: Option<(i64, i64)>,
}

/// Whether covered row `a` takes the dust before `b`: the larger weight, then the earlier row.
fn before(a: &(i128, PathBuf, u64), b: &(i128, PathBuf, u64)) -> bool {
    a.0 > b.0 || (a.0 == b.0 && (&a.1, a.2) < (&b.1, b.2))
}

/// Pools as the first pass finds them; [`Gathering::settle`] turns them into [`Commitments`].
#[derive(Debug, Default)]
pub struct Gathering {
    pools: HashMap<PoolKey, Gathered>,
}

/// The sums of a pool left the lake's range.
#[derive(Debug, Clone, Copy)]
pub struct PoolOverflow;

impl Gathering {
    pub(super) fn add(
        &mut self,
        key: PoolKey,
        role: Role,
        path: &Path,
        line: u64,
    ) -> Result<(), PoolOverflow> {
        let pool = self.pools.entry(key).or_insert_with(|| Gathered {
            quantities_known: true,
            ..Gathered::default()
        });
        match role {
            Role::Fee {
                fee,
                committed,
                bounds,
            } => {
                pool.fees = pool.fees.checked_add(fee).ok_or(PoolOverflow)?;
                pool.committed = pool
                    .committed
                    .checked_add(committed.unwrap_or(0))
                    .ok_or(PoolOverflow)?;
                let here = (path.to_path_buf(), line);
                if pool.first_fee.as_ref().is_none_or(|first| here < *first) {
                    pool.first_fee = Some(here);
                }
                pool.bounds = Some(match pool.bounds {
                    Some((start, end)) => (start.min(bounds.0), end.max(bounds.1)),
                    None => bounds,
                });
            }
            Role::Covered { covered, quantity } => {
                if covered > 0 {
                    pool.weights.push(covered);
                    let here = (covered, path.to_path_buf(), line);
                    if pool.largest.as_ref().is_none_or(|l| before(&here, l)) {
                        pool.largest = Some(here);
                    }
                }
                match quantity {
                    Some(q) => {
                        pool.covered_quantity =
                            pool.covered_quantity.checked_add(q).ok_or(PoolOverflow)?
                    }
                    None => pool.quantities_known = false,
                }
            }
        }
        Ok(())
    }

    /// Adds another file's pools.
    pub fn merge(&mut self, other: Gathering) -> Result<(), PoolOverflow> {
        for (key, theirs) in other.pools {
            let pool = self.pools.entry(key).or_insert_with(|| Gathered {
                quantities_known: true,
                ..Gathered::default()
            });
            pool.fees = pool.fees.checked_add(theirs.fees).ok_or(PoolOverflow)?;
            pool.committed = pool
                .committed
                .checked_add(theirs.committed)
                .ok_or(PoolOverflow)?;
            pool.covered_quantity = pool
                .covered_quantity
                .checked_add(theirs.covered_quantity)
                .ok_or(PoolOverflow)?;
            pool.quantities_known &= theirs.quantities_known;
            pool.weights.extend(theirs.weights);
            if let Some(l) = theirs.largest
                && pool.largest.as_ref().is_none_or(|mine| before(&l, mine))
            {
                pool.largest = Some(l);
            }
            if let Some(first) = theirs.first_fee
                && pool.first_fee.as_ref().is_none_or(|mine| first < *mine)
            {
                pool.first_fee = Some(first);
            }
            pool.bounds = match (pool.bounds, theirs.bounds) {
                (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
                (a, b) => a.or(b),
            };
        }
        Ok(())
    }

    /// Each pool's used and unused fees.
    pub fn settle(self) -> Result<Commitments, PoolOverflow> {
        let mut pools = HashMap::with_capacity(self.pools.len());
        for (key, g) in self.pools {
            let covered_any = !g.weights.is_empty();
            let noise = g.committed / 1_000_000_000;
            let covered_quantity = if g.committed - g.covered_quantity <= noise {
                g.committed
            } else {
                g.covered_quantity.clamp(0, g.committed)
            };
            let used = if !covered_any {
                0
            } else if g.quantities_known && g.committed > 0 {
                money::mul_div(g.fees, covered_quantity, g.committed).ok_or(PoolOverflow)?
            } else {
                // Without quantities the utilization is unknown; covered usage means the
                // commitment was in use, and Google applies it before any on-demand usage.
                g.fees
            };
            let weight = g
                .weights
                .iter()
                .try_fold(0i128, |a, w| a.checked_add(*w))
                .ok_or(PoolOverflow)?;
            let mut shared = 0i128;
            for w in &g.weights {
                let share = money::mul_div(used, *w, weight).ok_or(PoolOverflow)?;
                shared = shared.checked_add(share).ok_or(PoolOverflow)?;
            }
            let unused_quantity =
                (g.quantities_known && g.committed > 0).then(|| g.committed - covered_quantity);
            pools.insert(
                key,
                Pool {
                    used,
                    unused_quantity,
                    weight,
                    dust: used - shared,
                    largest: g.largest.map(|(_, path, line)| (path, line)),
                    unused: g.fees - used,
                    first_fee: g.first_fee,
                    bounds: g.bounds.unwrap_or_default(),
                },
            );
        }
        Ok(Commitments { pools })
    }
}

/// A pool's fees, settled.
#[derive(Debug)]
struct Pool {
    used: i128,
    unused_quantity: Option<i128>,
    weight: i128,
    dust: i128,
    largest: Option<(PathBuf, u64)>,
    unused: i128,
    first_fee: Option<(PathBuf, u64)>,
    bounds: (i64, i64),
}

/// The resource-based commitments of one export, pooled and settled: what each covered row's
/// share of its pool's fees is, and which fee row carries its pool's unused part.
#[derive(Debug, Default)]
pub struct Commitments {
    pools: HashMap<PoolKey, Pool>,
}

impl Commitments {
    /// The EffectiveCost the covered row at `path:line` takes from its pool's fees: its
    /// covered on-demand cost's share of what the pool used (with the truncation dust, when it
    /// is the pool's largest).
    pub(super) fn share(&self, key: &PoolKey, covered: i128, path: &Path, line: u64) -> i128 {
        match self.pools.get(key) {
            Some(pool) if covered > 0 && pool.weight > 0 => {
                let share = money::mul_div(pool.used, covered, pool.weight).unwrap_or(0);
                let largest = pool
                    .largest
                    .as_ref()
                    .is_some_and(|(p, l)| p == path && *l == line);
                if largest { share + pool.dust } else { share }
            }
            _ => 0,
        }
    }

    /// The unused part of the pool and the time it spans, when the fee row at `path:line` is
    /// the pool's first and something went unused.
    pub(super) fn unused_at(
        &self,
        key: &PoolKey,
        path: &Path,
        line: u64,
    ) -> Option<(i128, (i64, i64))> {
        let pool = self.pools.get(key)?;
        let (first_path, first_line) = pool.first_fee.as_ref()?;
        (first_path == path && *first_line == line && pool.unused != 0)
            .then_some((pool.unused, pool.bounds))
    }

    /// The committed quantity of the pool nothing used, when the quantities are known.
    pub(super) fn unused_quantity(&self, key: &PoolKey) -> Option<i128> {
        self.pools.get(key).and_then(|p| p.unused_quantity)
    }

    /// Pools found.
    pub fn len(&self) -> usize {
        self.pools.len()
    }

    /// Whether the export has no resource-based commitments.
    pub fn is_empty(&self) -> bool {
        self.pools.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(t: &str) -> i128 {
        money::parse_decimal(t.as_bytes()).unwrap().value
    }

    #[test]
    fn skus_name_their_resource() {
        assert_eq!(
            resource_of("Commitment v1: Cpu in Americas for 1 Year"),
            "vcpu"
        );
        assert_eq!(resource_of("N2 Instance Core running in Americas"), "vcpu");
        assert_eq!(
            resource_of("Commitment v1: Ram in Iowa for 3 Years"),
            "memory"
        );
        assert_eq!(resource_of("E2 Instance Ram running in Americas"), "memory");
        assert_eq!(
            resource_of("Commitment v1: Local SSD In Americas"),
            "local-ssd"
        );
        assert_eq!(resource_of("SSD backed Local Storage"), "local-ssd");
        assert_eq!(
            resource_of("Nvidia Tesla T4 GPU running in Americas"),
            "gpu"
        );
        assert!(is_fee_sku("Commitment v1: Cpu in Americas for 1 Year"));
        assert!(!is_fee_sku("Commitment - dollar based v1: GCE for 1 year"));
    }

    #[test]
    fn a_pool_splits_its_fees_into_shares_and_an_unused_rest_to_the_last_digit() {
        let pool = |covered_rows: &[u64]| {
            let key = PoolKey::new("2024-01", "A", 0, Some("us-central1"), "Cpu");
            let mut g = Gathering::default();
            let fee = Role::Fee {
                fee: v("1"),
                committed: Some(v("3")),
                bounds: (0, 3_600_000_000),
            };
            g.add(key.clone(), fee, Path::new("f"), 7).unwrap();
            for line in covered_rows {
                let covered = Role::Covered {
                    covered: v("1.40"),
                    quantity: Some(v("1")),
                };
                g.add(key.clone(), covered, Path::new("f"), *line).unwrap();
            }
            (key, g.settle().unwrap())
        };
        let path = Path::new("f");
        // Two of three committed units used: 2/3 of the fee in two equal shares; the rest,
        // 1/3 and what truncation left, is unused.
        let (key, c) = pool(&[9, 10]);
        assert_eq!(c.share(&key, v("1.40"), path, 9), v("0.333333333333"));
        assert_eq!(c.share(&key, v("1.40"), path, 10), v("0.333333333333"));
        let (unused, bounds) = c.unused_at(&key, path, 7).unwrap();
        assert_eq!(unused, v("0.333333333334"));
        assert_eq!(bounds, (0, 3_600_000_000));
        assert_eq!(c.unused_quantity(&key), Some(v("1")));
        assert!(c.unused_at(&key, path, 8).is_none());
        // All three used: the whole fee in three shares, the first row taking the dust.
        let (key, c) = pool(&[9, 10, 11]);
        let shares: Vec<i128> = [9, 10, 11]
            .iter()
            .map(|line| c.share(&key, v("1.40"), path, *line))
            .collect();
        assert_eq!(
            shares,
            [
                v("0.333333333334"),
                v("0.333333333333"),
                v("0.333333333333")
            ]
        );
        assert!(c.unused_at(&key, path, 7).is_none());
    }

    #[test]
    fn float_noise_in_quantities_is_not_idle_capacity() {
        let key = PoolKey::new("2024-01", "A", 0, Some("us-central1"), "Cpu");
        let mut g = Gathering::default();
        let path = Path::new("f");
        let fee = Role::Fee {
            fee: v("1"),
            committed: Some(v("1")),
            bounds: (0, 1),
        };
        g.add(key.clone(), fee, path, 1).unwrap();
        let covered = Role::Covered {
            covered: v("1.40"),
            quantity: Some(v("0.999999999999")),
        };
        g.add(key.clone(), covered, path, 2).unwrap();
        let c = g.settle().unwrap();
        assert_eq!(c.share(&key, v("1.40"), path, 2), v("1"));
        assert!(c.unused_at(&key, path, 1).is_none());
        assert_eq!(c.unused_quantity(&key), Some(0));
    }
}
