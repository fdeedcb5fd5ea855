//! Hand-checked sequences, one object per letter, unit sizes unless said.
//! Each sequence is chosen so that the policy's answer differs from at
//! least one other policy's (the comment traces the cache by hand).

use super::*;

fn hits(kind: Kind, cap: u64, seq: &[(u64, u32)]) -> Vec<usize> {
    let mut d = Cache::<Dense>::new(kind, cap, 4096);
    let mut h = Cache::<Hashed>::new(kind, cap, 0);
    let mut out = Vec::new();
    for (i, &(k, s)) in seq.iter().enumerate() {
        let a = d.access(k, s);
        // the hashed map must give the same answers as the dense one
        assert_eq!(a, h.access(k.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1 << 63, s), "{kind} request {i}");
        if a {
            out.push(i);
        }
        assert!(d.used() <= cap, "{kind} over capacity at {i}");
    }
    out
}

fn unit(s: &str) -> Vec<(u64, u32)> {
    s.bytes().map(|b| ((b - b'A') as u64, 1)).collect()
}

#[test]
fn lru_moves_hits_to_the_head() {
    // A B C | A hit (A C B) | D evicts B | A hit | E evicts C | A hit
    assert_eq!(hits(Kind::Lru, 3, &unit("ABCADAEA")), [3, 5, 7]);
    // A B C A D E F A: after D (D A C), E (E D A), F evicts A
    assert_eq!(hits(Kind::Lru, 3, &unit("ABCADEFA")), [3]);
}

#[test]
fn fifo_ignores_hits() {
    // A B C | A hit | D evicts A (the oldest, hit or not) | A miss evicts B | E evicts C | A hit
    assert_eq!(hits(Kind::Fifo, 3, &unit("ABCADAEA")), [3, 7]);
}

#[test]
fn clock_gives_a_referenced_object_a_second_chance() {
    // A B C | A sets A's bit | D: A reinserted, B evicted | A hit | E evicts C | A hit
    assert_eq!(hits(Kind::Clock, 3, &unit("ABCADAEA")), [3, 5, 7]);
    // but only one chance: E evicts C, F evicts A (bit cleared by D's pass)
    assert_eq!(hits(Kind::Clock, 3, &unit("ABCADEFA")), [3]);
}

#[test]
fn sieve_keeps_its_hand_where_it_stopped() {
    // A B C (list C B A) | A visited | D: hand clears A, evicts B, rests on C |
    // E evicts C, hand on D | F evicts D | A still cached: LRU and CLOCK lost it
    assert_eq!(hits(Kind::Sieve, 3, &unit("ABCADEFA")), [3, 7]);
}

#[test]
fn lfu_evicts_the_least_frequent_then_the_oldest() {
    // A A B C | D evicts B (count 1, oldest) | B evicts C | C evicts D | A hit
    assert_eq!(hits(Kind::Lfu, 3, &unit("AABCDBCA")), [1, 7]);
    // LRU evicts A at D (least recent), keeps B and C, and misses A at the end
    assert_eq!(hits(Kind::Lru, 3, &unit("AABCDBCA")), [1, 5, 6]);
}

#[test]
fn s3fifo_small_main_and_ghost() {
    // capacity 20: small 2, main 18, ghost 18 (bytes, unit objects)
    let mut seq: Vec<(u64, u32)> = (0..20).map(|k| (k, 1)).collect(); // 0,1 → small; full small sends 2..19 to main
    seq.push((20, 1)); // 20: evicts small's 0 to the ghost; 20 → small
    seq.push((0, 1)); // 0: ghost hit → small's 1 to the ghost; 0 → main (main 19 > 18)
    seq.push((2, 1)); // 2: hit in main (counter 1)
    seq.push((21, 1)); // 21: main over size → 2 reinserted (counter 0), 3 evicted; 21 → small
    seq.push((2, 1)); // 2: hit
    seq.push((3, 1)); // 3: miss (main evictions leave no ghost); small's 20 → ghost; 3 → small
    seq.push((20, 1)); // 20: ghost → miss; making room sends small's 21 (never hit) to the ghost; 20 → main
    seq.push((21, 1)); // 21: ghost → miss
    seq.push((20, 1)); // 20: hit in main
    let got = hits(Kind::S3Fifo, 20, &seq);
    assert_eq!(got, [22, 24, 28]);
    // an object as large as the small queue is never admitted (the reference's rule)
    let mut c = Cache::<Dense>::new(Kind::S3Fifo, 10, 8);
    assert!(!c.access(1, 1) && !c.access(1, 1));
    assert_eq!(c.len(), 0);
}

#[test]
fn s3fifo_moves_twice_hit_small_objects_to_main() {
    // capacity 40: small 4. Fill small with 0..3, hit 0 twice, then push
    // the small queue: 0 must survive in main while 1..3 go to the ghost.
    let mut seq: Vec<(u64, u32)> = (0..4).map(|k| (k, 1)).collect();
    seq.extend([(0, 1), (0, 1)]);
    // before the first eviction a full small queue sends objects to main:
    // fill the rest of the cache (36 bytes) so that evictions start
    seq.extend((100..136).map(|k| (k, 1)));
    seq.extend((200..204).map(|k| (k, 1))); // four misses: four evictions from small
    seq.push((0, 1)); // hit: 0 moved to main
    seq.push((1, 1)); // miss: 1 went to the ghost
    let got = hits(Kind::S3Fifo, 40, &seq);
    assert_eq!(got, [4, 5, 46]);
}

#[test]
fn wtinylfu_protects_a_frequent_object_from_a_scan() {
    let mut seq = vec![(0u64, 1u32); 5];
    seq.extend((1..=300).map(|k| (k, 1)));
    seq.push((0, 1));
    let last = seq.len() - 1;
    assert!(hits(Kind::WTinyLfu, 100, &seq).contains(&last));
    assert!(!hits(Kind::Lru, 100, &seq).contains(&last));
}

#[test]
fn sizes_are_bytes_and_oversized_objects_are_not_admitted() {
    for kind in Kind::ALL {
        let mut c = Cache::<Dense>::new(kind, 1000, 8);
        assert!(!c.access(1, 1001), "{kind}");
        assert!(!c.access(1, 1001), "{kind}: larger than the cache, never admitted");
        assert_eq!(c.used(), 0, "{kind}");
        c.access(2, 10);
        // a hit with another size keeps the stored size (libCacheSim)
        assert!(c.access(2, 500), "{kind}");
        assert!(c.used() <= 10, "{kind}: {}", c.used());
    }
    // LRU by bytes: 600 + 300 fit in 1000, 200 more evicts the 600
    let h = hits(Kind::Lru, 1000, &[(1, 600), (2, 300), (3, 200), (2, 300), (1, 600)]);
    assert_eq!(h, [3]);
}

#[test]
fn names_round_trip() {
    for k in Kind::ALL {
        assert_eq!(Kind::parse(k.as_str()), Some(k));
    }
    assert_eq!(Kind::parse("S3-FIFO"), Some(Kind::S3Fifo));
    assert_eq!(Kind::parse("W-TinyLFU"), Some(Kind::WTinyLfu));
    assert_eq!(Kind::parse("arc"), None);
}
