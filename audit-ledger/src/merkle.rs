//! The RFC 6962 / RFC 9162 Merkle tree over entry leaf hashes: hashing, the
//! growing right edge ([`Frontier`]), proof shapes, proof verification and a
//! small in-memory tree.
//!
//! Proofs are described as *leaf ranges*: every hash in an inclusion or
//! consistency proof is the Merkle tree hash of a range of leaves `[start, end)`
//! whose start is a multiple of a power of two at least as large as the range.
//! Such a range is the concatenation of a few perfect subtrees ([`subtrees`]),
//! so a store that keeps the hash of every perfect subtree (everything
//! [`Frontier::push`] returns) can serve any proof with one lookup per subtree.

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// Why a Merkle operation or proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// No consistency proof exists between these sizes (the old size is zero or
    /// larger than the new one).
    #[error("no consistency proof exists from tree size {old} to tree size {new}")]
    InvalidSizes {
        /// The older (smaller) tree size.
        old: u64,
        /// The newer (larger) tree size.
        new: u64,
    },
    /// The tree has fewer leaves than the requested size.
    #[error("tree size {size} is beyond the {available} leaves available")]
    BeyondTree {
        /// The requested tree size.
        size: u64,
        /// How many leaves the tree holds.
        available: u64,
    },
    /// The proof holds too many or too few hashes for these sizes.
    #[error("the proof has the wrong number of hashes")]
    ProofLength,
    /// The proof does not lead to the expected root hash(es).
    #[error("the proof does not lead to the expected root hash")]
    RootMismatch,
    /// Serialized frontier bytes are malformed.
    #[error("malformed frontier: {0}")]
    MalformedFrontier(&'static str),
}

/// The leaf hash of `data`: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([0x00])
        .chain_update(data)
        .finalize()
        .into()
}

/// The interior node hash: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut input = [0x01; 65];
    input[1..33].copy_from_slice(left);
    input[33..].copy_from_slice(right);
    Sha256::digest(input).into()
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A perfect subtree: the 2^level leaves starting at index << level. Level 0 is a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves: the subtree holds 2^level leaves.
    pub level: u8,
    /// Position among the subtrees of this level, counted from the left.
    pub index: u64,
}

/// The right edge of a growing tree: roots of its perfect subtrees, largest first.
///
/// A tree of `size` leaves splits into one perfect subtree per set bit of
/// `size`; the frontier keeps exactly those subtree hashes ("peaks"), which is
/// all that is needed to compute the root and to keep appending.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree root: the peaks folded from the right; [`empty_root`] when empty.
    pub fn root(&self) -> Hash {
        fold_from_right(self.peaks.iter().copied()).unwrap_or_else(empty_root)
    }

    /// Appends a leaf hash; returns every perfect subtree (level >= 1) this
    /// completes, with its hash, lowest level first.
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let merges = self.size.trailing_ones();
        let mut completed = Vec::with_capacity(merges as usize);
        let mut hash = leaf;
        for level in 1..=merges {
            if let Some(left) = self.peaks.pop() {
                hash = node_hash(&left, &hash);
                let id = NodeId {
                    level: level as u8,
                    index: self.size >> level,
                };
                completed.push((id, hash));
            }
        }
        self.peaks.push(hash);
        self.size += 1;
        completed
    }

    /// Serializes the frontier: the size (u64 big-endian) then the peaks, largest first.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(8 + 32 * self.peaks.len());
        bytes.extend_from_slice(&self.size.to_be_bytes());
        for peak in &self.peaks {
            bytes.extend_from_slice(peak);
        }
        bytes
    }

    /// Reads bytes written by [`Frontier::to_bytes`], checking that there is one
    /// peak per set bit of the size.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MerkleError> {
        let (size_bytes, peak_bytes) =
            bytes
                .split_first_chunk::<8>()
                .ok_or(MerkleError::MalformedFrontier(
                    "shorter than its 8-byte size",
                ))?;
        let size = u64::from_be_bytes(*size_bytes);
        if size == u64::MAX {
            return Err(MerkleError::MalformedFrontier("size is too large"));
        }
        let (peaks, rest) = peak_bytes.as_chunks::<32>();
        if !rest.is_empty() {
            return Err(MerkleError::MalformedFrontier(
                "peaks are not 32 bytes each",
            ));
        }
        if peaks.len() != size.count_ones() as usize {
            return Err(MerkleError::MalformedFrontier(
                "peak count differs from the number of set bits of the size",
            ));
        }
        Ok(Self {
            size,
            peaks: peaks.to_vec(),
        })
    }
}

/// Folds hashes from the right: `node(h0, node(h1, … node(hn-1, hn)))`.
fn fold_from_right(hashes: impl DoubleEndedIterator<Item = Hash>) -> Option<Hash> {
    hashes.rev().reduce(|right, left| node_hash(&left, &right))
}

/// Perfect subtrees covering leaves [start, end), left to right, as RFC 9162
/// splits them (largest aligned first). Empty when `start >= end`.
pub fn subtrees(start: u64, end: u64) -> Vec<NodeId> {
    let mut ids = Vec::new();
    let mut position = start;
    while position < end {
        let aligned = position.trailing_zeros();
        let fits = (end - position).ilog2();
        let level = aligned.min(fits);
        ids.push(NodeId {
            level: level as u8,
            index: position >> level,
        });
        position += 1 << level;
    }
    ids
}

/// The largest power of two strictly below `n` (`n >= 2`): RFC 9162's split point.
fn split_point(n: u64) -> u64 {
    1 << (n - 1).ilog2()
}

/// The leaf ranges whose hashes form the inclusion proof of `index` in a tree
/// of `size`, in proof order (RFC 9162 2.1.3.1, closest to the leaf first).
pub fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<(u64, u64)>, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let mut ranges = Vec::new();
    let (mut start, mut end) = (0, size);
    while end - start > 1 {
        let middle = start + split_point(end - start);
        if index < middle {
            ranges.push((middle, end));
            end = middle;
        } else {
            ranges.push((start, middle));
            start = middle;
        }
    }
    ranges.reverse();
    Ok(ranges)
}

/// The leaf ranges whose hashes form the consistency proof from `old` to `new`
/// (RFC 9162 2.1.4.1 order). Empty proof when old == new; error when old == 0
/// or old > new.
pub fn consistency_ranges(old: u64, new: u64) -> Result<Vec<(u64, u64)>, MerkleError> {
    if old == 0 || old > new {
        return Err(MerkleError::InvalidSizes { old, new });
    }
    let mut ranges = Vec::new();
    let (mut start, mut end) = (0, new);
    let mut subtree_is_old_tree = true;
    while old != end {
        let middle = start + split_point(end - start);
        if old <= middle {
            ranges.push((middle, end));
            end = middle;
        } else {
            ranges.push((start, middle));
            start = middle;
            subtree_is_old_tree = false;
        }
    }
    if !subtree_is_old_tree {
        ranges.push((start, end));
    }
    ranges.reverse();
    Ok(ranges)
}

/// MTH of leaves [start, end) from perfect-subtree hashes: folds
/// subtrees(start, end) from the right. None if lookup returns None for any.
///
/// This is the RFC 9162 hash of the range whenever `start` is a multiple of a
/// power of two at least `end - start`, as every proof range is. An empty range
/// hashes to [`empty_root`].
pub fn range_hash(
    start: u64,
    end: u64,
    mut lookup: impl FnMut(NodeId) -> Option<Hash>,
) -> Option<Hash> {
    let hashes = subtrees(start, end)
        .into_iter()
        .map(&mut lookup)
        .collect::<Option<Vec<Hash>>>()?;
    Some(fold_from_right(hashes.into_iter()).unwrap_or_else(empty_root))
}

/// Verifies an inclusion proof (RFC 9162 2.1.3.2): `leaf` is leaf `index` of
/// the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let (mut node, mut last) = (index, size - 1);
    let mut hash = *leaf;
    for sibling in proof {
        if last == 0 {
            return Err(MerkleError::ProofLength);
        }
        if node & 1 == 1 || node == last {
            hash = node_hash(sibling, &hash);
            while node & 1 == 0 && node != 0 {
                node >>= 1;
                last >>= 1;
            }
        } else {
            hash = node_hash(&hash, sibling);
        }
        node >>= 1;
        last >>= 1;
    }
    if last != 0 {
        return Err(MerkleError::ProofLength);
    }
    if hash != *root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// Verifies a consistency proof (RFC 9162 2.1.4.2): the tree of `new` leaves
/// with root `new_root` extends the tree of `old` leaves with root `old_root`.
/// Equal sizes need an empty proof and equal roots; an empty old tree has no proof.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    if old > new || (old == 0 && new != 0) {
        return Err(MerkleError::InvalidSizes { old, new });
    }
    if old == new {
        return match (proof.is_empty(), old_root == new_root) {
            (false, _) => Err(MerkleError::ProofLength),
            (true, false) => Err(MerkleError::RootMismatch),
            (true, true) => Ok(()),
        };
    }
    let (first, rest) = match proof.split_first() {
        Some(_) if old.is_power_of_two() => (old_root, proof),
        Some((first, rest)) => (first, rest),
        None => return Err(MerkleError::ProofLength),
    };
    let (mut node, mut last) = (old - 1, new - 1);
    while node & 1 == 1 {
        node >>= 1;
        last >>= 1;
    }
    let (mut old_hash, mut new_hash) = (*first, *first);
    for sibling in rest {
        if last == 0 {
            return Err(MerkleError::ProofLength);
        }
        if node & 1 == 1 || node == last {
            old_hash = node_hash(sibling, &old_hash);
            new_hash = node_hash(sibling, &new_hash);
            while node & 1 == 0 && node != 0 {
                node >>= 1;
                last >>= 1;
            }
        } else {
            new_hash = node_hash(&new_hash, sibling);
        }
        node >>= 1;
        last >>= 1;
    }
    if last != 0 {
        return Err(MerkleError::ProofLength);
    }
    if old_hash != *old_root || new_hash != *new_root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// An in-memory tree of leaf hashes (tests, small ledgers, the offline
/// verifier's proofs). Keeps every perfect subtree hash, level by level.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    frontier: Frontier,
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let completed = self.frontier.push(leaf);
        self.store(0, leaf);
        for (id, hash) in completed {
            self.store(usize::from(id.level), hash);
        }
    }

    fn store(&mut self, level: usize, hash: Hash) {
        if self.levels.len() <= level {
            self.levels.resize_with(level + 1, Vec::new);
        }
        if let Some(nodes) = self.levels.get_mut(level) {
            nodes.push(hash);
        }
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The hash of a perfect subtree, if the tree already holds all its leaves.
    pub fn node(&self, id: NodeId) -> Option<Hash> {
        let index = usize::try_from(id.index).ok()?;
        self.levels.get(usize::from(id.level))?.get(index).copied()
    }

    /// The root of the tree made of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        if size > self.size() {
            return None;
        }
        range_hash(0, size, |id| self.node(id))
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, MerkleError> {
        self.check_size(size)?;
        self.hash_ranges(inclusion_ranges(index, size)?)
    }

    /// The consistency proof between the trees of the first `old` and `new` leaves.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, MerkleError> {
        self.check_size(new)?;
        self.hash_ranges(consistency_ranges(old, new)?)
    }

    fn check_size(&self, size: u64) -> Result<(), MerkleError> {
        if size > self.size() {
            return Err(MerkleError::BeyondTree {
                size,
                available: self.size(),
            });
        }
        Ok(())
    }

    fn hash_ranges(&self, ranges: Vec<(u64, u64)>) -> Result<Vec<Hash>, MerkleError> {
        ranges
            .into_iter()
            .map(|(start, end)| range_hash(start, end, |id| self.node(id)))
            .collect::<Option<Vec<Hash>>>()
            .ok_or(MerkleError::BeyondTree {
                size: self.size(),
                available: self.size(),
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    /// The RFC 9162 definition of MTH, computed recursively from the leaf hashes.
    fn naive_root(hashes: &[Hash]) -> Hash {
        match hashes.len() {
            0 => empty_root(),
            1 => hashes[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&naive_root(&hashes[..k]), &naive_root(&hashes[k..]))
            }
        }
    }

    /// RFC 9162 2.1.3.1 PATH, written recursively.
    fn naive_path(index: usize, hashes: &[Hash]) -> Vec<Hash> {
        let n = hashes.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = split_point(n as u64) as usize;
        if index < k {
            let mut path = naive_path(index, &hashes[..k]);
            path.push(naive_root(&hashes[k..]));
            path
        } else {
            let mut path = naive_path(index - k, &hashes[k..]);
            path.push(naive_root(&hashes[..k]));
            path
        }
    }

    /// RFC 9162 2.1.4.1 SUBPROOF, written recursively.
    fn naive_subproof(m: usize, hashes: &[Hash], complete: bool) -> Vec<Hash> {
        let n = hashes.len();
        if m == n {
            return if complete {
                Vec::new()
            } else {
                vec![naive_root(hashes)]
            };
        }
        let k = split_point(n as u64) as usize;
        if m <= k {
            let mut proof = naive_subproof(m, &hashes[..k], complete);
            proof.push(naive_root(&hashes[k..]));
            proof
        } else {
            let mut proof = naive_subproof(m - k, &hashes[k..], false);
            proof.push(naive_root(&hashes[..k]));
            proof
        }
    }

    fn tree(n: u64) -> (MemoryTree, Vec<Hash>) {
        let hashes = leaves(n);
        let mut tree = MemoryTree::new();
        hashes.iter().for_each(|h| tree.push(*h));
        (tree, hashes)
    }

    #[test]
    fn frontier_root_matches_the_recursive_definition() {
        let hashes = leaves(70);
        let mut frontier = Frontier::new();
        assert_eq!(frontier.root(), empty_root());
        for n in 1..=70 {
            frontier.push(hashes[n - 1]);
            assert_eq!(frontier.size(), n as u64);
            assert_eq!(frontier.root(), naive_root(&hashes[..n]), "size {n}");
        }
    }

    #[test]
    fn frontier_push_reports_each_completed_subtree_once() {
        let hashes = leaves(64);
        let mut frontier = Frontier::new();
        let mut reported = Vec::new();
        for leaf in &hashes {
            reported.extend(frontier.push(*leaf));
        }
        assert_eq!(
            reported.len(),
            63,
            "a perfect tree of 64 leaves has 63 interior nodes"
        );
        for (id, hash) in reported {
            let first = (id.index << id.level) as usize;
            let count = 1usize << id.level;
            assert_eq!(hash, naive_root(&hashes[first..first + count]), "{id:?}");
        }
    }

    #[test]
    fn frontier_push_lists_lowest_level_first() {
        let mut frontier = Frontier::new();
        let mut last = Vec::new();
        for leaf in leaves(8) {
            last = frontier.push(leaf);
        }
        let levels: Vec<u8> = last.iter().map(|(id, _)| id.level).collect();
        assert_eq!(levels, vec![1, 2, 3]);
        assert_eq!(last[2].0, NodeId { level: 3, index: 0 });
    }

    #[test]
    fn frontier_bytes_round_trip_and_reject_malformed_input() {
        let mut frontier = Frontier::new();
        for leaf in leaves(13) {
            frontier.push(leaf);
        }
        let bytes = frontier.to_bytes();
        assert_eq!(bytes.len(), 8 + 3 * 32);
        assert_eq!(Frontier::from_bytes(&bytes).unwrap(), frontier);
        assert_eq!(
            Frontier::from_bytes(&Frontier::new().to_bytes()).unwrap(),
            Frontier::new()
        );
        assert!(Frontier::from_bytes(&bytes[..7]).is_err());
        assert!(Frontier::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(Frontier::from_bytes(&bytes[..bytes.len() - 32]).is_err());
        assert!(Frontier::from_bytes(&u64::MAX.to_be_bytes()).is_err());
        assert!(Frontier::from_bytes(&[]).is_err());
    }

    #[test]
    fn subtrees_take_the_largest_aligned_subtree_first() {
        let id = |level, index| NodeId { level, index };
        assert_eq!(subtrees(0, 13), vec![id(3, 0), id(2, 2), id(0, 12)]);
        assert_eq!(subtrees(8, 13), vec![id(2, 2), id(0, 12)]);
        assert_eq!(subtrees(3, 8), vec![id(0, 3), id(2, 1)]);
        assert!(subtrees(5, 5).is_empty());
        assert!(subtrees(6, 5).is_empty());
        assert_eq!(subtrees(0, u64::MAX).len(), 64);
    }

    #[test]
    fn proof_ranges_hash_to_the_rfc_proofs_for_all_sizes_up_to_70() {
        let (tree, hashes) = tree(70);
        for size in 1..=70u64 {
            let prefix = &hashes[..size as usize];
            assert_eq!(tree.root_at(size).unwrap(), naive_root(prefix));
            for index in 0..size {
                let proof = tree.inclusion_proof(index, size).unwrap();
                assert_eq!(
                    proof,
                    naive_path(index as usize, prefix),
                    "{index} in {size}"
                );
                let root = naive_root(prefix);
                verify_inclusion(&hashes[index as usize], index, size, &proof, &root).unwrap();
            }
            for old in 1..=size {
                let proof = tree.consistency_proof(old, size).unwrap();
                assert_eq!(
                    proof,
                    naive_subproof(old as usize, prefix, true),
                    "{old}->{size}"
                );
                let old_root = naive_root(&hashes[..old as usize]);
                verify_consistency(old, size, &old_root, &naive_root(prefix), &proof).unwrap();
            }
        }
    }

    #[test]
    fn every_proof_range_is_aligned_so_its_subtrees_give_the_rfc_hash() {
        let hashes = leaves(70);
        for size in 1..=70u64 {
            let mut ranges = Vec::new();
            for index in 0..size {
                ranges.extend(inclusion_ranges(index, size).unwrap());
            }
            for old in 1..=size {
                ranges.extend(consistency_ranges(old, size).unwrap());
            }
            for (start, end) in ranges {
                let direct = naive_root(&hashes[start as usize..end as usize]);
                let from_subtrees = range_hash(start, end, |id| {
                    let first = (id.index << id.level) as usize;
                    Some(naive_root(&hashes[first..first + (1 << id.level)]))
                });
                assert_eq!(from_subtrees, Some(direct), "[{start}, {end})");
            }
        }
    }

    #[test]
    fn range_hash_gives_none_when_a_subtree_is_missing() {
        assert_eq!(
            range_hash(0, 3, |id| (id.level == 0).then(empty_root)),
            None
        );
        assert_eq!(range_hash(4, 4, |_| None), Some(empty_root()));
    }

    #[test]
    fn ranges_reject_impossible_arguments() {
        assert!(inclusion_ranges(5, 5).is_err());
        assert!(inclusion_ranges(0, 0).is_err());
        assert!(consistency_ranges(0, 5).is_err());
        assert!(consistency_ranges(6, 5).is_err());
        assert_eq!(consistency_ranges(5, 5).unwrap(), Vec::new());
        assert_eq!(inclusion_ranges(0, 1).unwrap(), Vec::new());
        assert_eq!(inclusion_ranges(u64::MAX - 1, u64::MAX).unwrap().len(), 63);
        assert_eq!(inclusion_ranges(0, u64::MAX).unwrap().len(), 64);
        assert!(
            !consistency_ranges(u64::MAX - 1, u64::MAX)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn inclusion_verification_rejects_altered_proofs() {
        let (tree, hashes) = tree(11);
        let root = tree.root_at(11).unwrap();
        let proof = tree.inclusion_proof(6, 11).unwrap();
        let leaf = hashes[6];
        verify_inclusion(&leaf, 6, 11, &proof, &root).unwrap();
        assert!(verify_inclusion(&leaf, 5, 11, &proof, &root).is_err());
        assert!(verify_inclusion(&leaf, 6, 22, &proof, &root).is_err());
        assert!(verify_inclusion(&leaf, 6, 5, &proof, &root).is_err());
        assert!(verify_inclusion(&hashes[5], 6, 11, &proof, &root).is_err());
        assert!(verify_inclusion(&leaf, 6, 11, &proof[1..], &root).is_err());
        let mut longer = proof.clone();
        longer.push(root);
        assert!(verify_inclusion(&leaf, 6, 11, &longer, &root).is_err());
        for i in 0..proof.len() {
            let mut altered = proof.clone();
            altered[i][0] ^= 1;
            assert!(verify_inclusion(&leaf, 6, 11, &altered, &root).is_err());
        }
        assert!(verify_inclusion(&leaf, 11, 11, &proof, &root).is_err());
    }

    #[test]
    fn consistency_verification_rejects_altered_proofs() {
        let (tree, _) = tree(11);
        let (old_root, new_root) = (tree.root_at(6).unwrap(), tree.root_at(11).unwrap());
        let proof = tree.consistency_proof(6, 11).unwrap();
        verify_consistency(6, 11, &old_root, &new_root, &proof).unwrap();
        assert!(verify_consistency(6, 11, &new_root, &old_root, &proof).is_err());
        assert!(verify_consistency(5, 11, &old_root, &new_root, &proof).is_err());
        assert!(verify_consistency(6, 22, &old_root, &new_root, &proof).is_err());
        assert!(verify_consistency(6, 11, &old_root, &new_root, &proof[1..]).is_err());
        assert!(verify_consistency(6, 11, &old_root, &new_root, &[]).is_err());
        for i in 0..proof.len() {
            let mut altered = proof.clone();
            altered[i][0] ^= 1;
            assert!(verify_consistency(6, 11, &old_root, &new_root, &altered).is_err());
        }
        verify_consistency(0, 0, &old_root, &old_root, &[]).unwrap();
        verify_consistency(6, 6, &old_root, &old_root, &[]).unwrap();
        assert!(verify_consistency(6, 6, &old_root, &new_root, &[]).is_err());
        assert!(verify_consistency(6, 6, &old_root, &old_root, &[old_root]).is_err());
        assert!(verify_consistency(0, 6, &old_root, &new_root, &[]).is_err());
        assert!(verify_consistency(7, 6, &old_root, &new_root, &proof).is_err());
    }

    #[test]
    fn memory_tree_refuses_sizes_it_does_not_hold() {
        let (tree, _) = tree(5);
        assert_eq!(tree.root_at(6), None);
        assert_eq!(tree.root_at(0), Some(empty_root()));
        assert!(tree.inclusion_proof(0, 6).is_err());
        assert!(tree.consistency_proof(2, 6).is_err());
        assert_eq!(tree.node(NodeId { level: 2, index: 1 }), None);
        assert_eq!(
            tree.node(NodeId {
                level: 200,
                index: 0
            }),
            None
        );
    }
}
