//! The model against hand-computed closed forms (docs/network.md works the
//! same numbers), then its behaviour under idle, loss and jitter.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::link::{Jitter, Link};
use crate::units::{Bandwidth, Dur};

const R: f64 = 0.150;
/// A GET's request line and headers: one segment.
const GET: u64 = 300;

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn close(got: Duration, want_ms: f64) -> bool {
    (ms(got) - want_ms).abs() < 0.001
}

fn ideal() -> Link {
    Link::ideal(Duration::from_secs_f64(R))
}

fn tls() -> Link {
    Link { tls: true, ..ideal() }
}

/// A connection that is open and has just sent (no idle restart).
fn fresh_warm(cwnd: u32) -> Conn {
    Conn::Warm(Warm { cwnd, ssthresh: NO_SSTHRESH, last_send: t0() })
}

/// Data round trips of slow start from 10 segments of 1460 bytes, no cap:
/// the smallest n with 14600·(2ⁿ − 1) ≥ bytes.
const SIZES: [(u64, u32); 4] = [(10_000, 1), (100_000, 3), (1_000_000, 7), (10_000_000, 10)];

#[test]
fn round_counts_follow_slow_start_from_ten_segments() {
    for (bytes, n) in SIZES {
        let p = plan(&ideal(), &fresh_warm(10), GET, bytes, t0(), 1);
        assert_eq!(p.response.round_count, n, "{bytes} bytes");
        assert_eq!(p.rounds().last().map(|r| r.end), Some(bytes));
    }
}

#[test]
fn warm_cold_and_tls_closed_forms_over_150_ms() {
    // Request half a round trip up, each data round one round trip, the
    // last half a round trip down: warm n·R; a cold connection adds the
    // TCP handshake (R); TLS 1.3 one more R.
    for (bytes, n) in SIZES {
        let n = n as f64;
        let warm = plan(&ideal(), &fresh_warm(10), GET, bytes, t0(), 1);
        assert!(close(warm.ttfb(), 1e3 * R), "{bytes}: warm ttfb {:?}", warm.ttfb());
        assert!(close(warm.total(), 1e3 * R * n), "{bytes}: warm total {:?}", warm.total());
        let cold = plan(&ideal(), &Conn::Cold, GET, bytes, t0(), 1);
        assert!(close(cold.ttfb(), 1e3 * 2.0 * R), "{bytes}: cold ttfb {:?}", cold.ttfb());
        assert!(close(cold.total(), 1e3 * R * (n + 1.0)), "{bytes}: cold total {:?}", cold.total());
        let cold_tls = plan(&tls(), &Conn::Cold, GET, bytes, t0(), 1);
        assert!(close(cold_tls.ttfb(), 1e3 * 3.0 * R), "{bytes}: tls ttfb {:?}", cold_tls.ttfb());
        assert!(close(cold_tls.total(), 1e3 * R * (n + 2.0)), "{bytes}: tls total {:?}", cold_tls.total());
        let warm_tls = plan(&tls(), &fresh_warm(10), GET, bytes, t0(), 1);
        assert_eq!(warm_tls.total(), warm.total(), "a warm connection pays no handshake");
    }
    // The figure: a cold 1 MB fetch over 150 ms takes about 1.35 s.
    let p = plan(&tls(), &Conn::Cold, GET, 1_000_000, t0(), 1);
    assert!(close(p.total(), 1350.0), "{:?}", p.total());
}

#[test]
fn a_warm_window_carries_the_next_object_in_fewer_rounds() {
    // After 1 MB the window is 640 segments (the last, partial round of 55
    // segments did not grow it): the next 1 MB (685 segments) takes 2 rounds.
    let first = plan(&ideal(), &Conn::Cold, GET, 1_000_000, t0(), 1);
    assert_eq!(first.response.after.cwnd, 640);
    let again = plan(&ideal(), &first.after(), GET, 1_000_000, t0() + first.total(), 2);
    assert_eq!(again.response.round_count, 2);
    assert!(close(again.total(), 2.0 * 1e3 * R), "{:?}", again.total());
}

#[test]
fn the_receive_window_caps_the_window() {
    // rwnd 3 MiB = 2154 segments: 10 MB (6850 segments) at full window
    // takes ⌈6850 / 2154⌉ = 4 rounds, and the window never passes 2154.
    let p = plan(&ideal(), &fresh_warm(100_000), GET, 10_000_000, t0(), 1);
    assert_eq!(p.response.round_count, 4);
    assert!(close(p.total(), 4.0 * 1e3 * R));
    assert_eq!(p.response.after.cwnd, 2154);
    let smaller = Link { tcp: crate::link::Tcp { rwnd: crate::ByteSize::kib(64), ..Default::default() }, ..ideal() };
    let q = plan(&smaller, &fresh_warm(10), GET, 1_000_000, t0(), 1);
    // 64 KiB = 44 segments: 10, 20, 40, then 44 per round: 70 + 44·14 = 686 ≥ 685.
    assert_eq!(q.response.round_count, 3 + 14);
}

#[test]
fn ten_megabytes_over_100_mbit_is_bandwidth_bound() {
    // rate 12.5 MB/s: a segment takes 0.1168 ms. A round of w segments
    // stalls S/rate + R − w·S/rate until its first ACK is back while
    // w·S/rate < S/rate + R (Kurose & Ross): for w = 10 … 1280 (8 rounds,
    // 2550 segments) that is 8·150.1168 − 2550·0.1168 = 903.0944 ms. Then
    // the window (capped at the BDP, 1286 segments) keeps the pipe full.
    // total = handshake R + request (R/2 + 300 B / rate) + R/2 + stalls
    //       + 10 MB / rate = 150 + 75.024 + 75 + 903.0944 + 800.
    let link = Link { bandwidth: Bandwidth::mbit(100), ..ideal() };
    let p = plan(&link, &Conn::Cold, GET, 10_000_000, t0(), 1);
    assert!(close(p.total(), 2003.1184), "{:?}", p.total());
    assert!(close(p.ttfb(), 150.0 + 75.024 + 75.0 + 0.1168), "{:?}", p.ttfb());
    assert_eq!(p.response.round_count, 12); // 8 slow-start rounds, then 1286, 1286, 1286, 442
    assert_eq!(p.response.after.cwnd, 1286);
    // The bandwidth-bound rounds arrive back to back at the line rate.
    let rounds: Vec<Round> = p.response.rounds().collect();
    for w in rounds[8..].windows(2) {
        let gap = w[1].first.as_secs_f64() - w[0].last.as_secs_f64();
        assert!(gap.abs() < 0.000_2, "{gap}");
    }
}

#[test]
fn idle_restart_halves_the_window_per_rto_down_to_the_initial_window() {
    // RTO = 150 ms + rto_min 200 ms = 350 ms. A window of 1280 carries 1 MB
    // (685 segments) in one round.
    let rounds_after_idle = |idle_ms: u64, link: &Link| {
        let w = Warm { cwnd: 1280, ssthresh: NO_SSTHRESH, last_send: t0() };
        let start = t0() + Duration::from_millis(idle_ms);
        Response::new(link, &Conn::Warm(w), 1_000_000, start, 1)
    };
    assert_eq!(rounds_after_idle(300, &ideal()).round_count, 1, "idle below the RTO keeps the window");
    // 500 ms: one RTO passed → 640 → two rounds (640 + 45).
    assert_eq!(rounds_after_idle(500, &ideal()).round_count, 2);
    // 10 s: back to the initial window: 7 rounds, as on a new connection.
    let long = rounds_after_idle(10_000, &ideal());
    assert_eq!(long.round_count, 7);
    assert!(close(long.last_byte, 1e3 * (R / 2.0 + 6.0 * R)));
    // With tcp_slow_start_after_idle = 0 the window survives any idle time.
    let mut keep = ideal();
    keep.tcp.slow_start_after_idle = false;
    assert_eq!(rounds_after_idle(10_000, &keep).round_count, 1);
}

#[test]
fn idle_restart_follows_linux_step_by_step() {
    let link = ideal();
    let p = Params::of(&link);
    let w = Warm { cwnd: 1280, ssthresh: NO_SSTHRESH, last_send: t0() };
    let at = |ms: u64| restart_after_idle(&link, &p, &w, t0() + Duration::from_millis(ms));
    assert_eq!(at(350), (1280, NO_SSTHRESH), "exactly one RTO is not longer than the RTO");
    assert_eq!(at(351).0, 640);
    assert_eq!(at(700).0, 640, "two RTOs exactly: the second subtraction leaves 0, not > 0");
    assert_eq!(at(701).0, 320);
    assert_eq!(at(2000).0, 40); // 2000 − 5·350 > 0 after five halvings, the sixth subtraction goes negative
    assert_eq!(at(60_000).0, 10);
    // ssthresh keeps ¾ of the old window once a loss had set it.
    let lossy = Warm { ssthresh: 100, ..w };
    assert_eq!(restart_after_idle(&link, &p, &lossy, t0() + Duration::from_secs(60)), (10, 960));
    let at_rto = restart_after_idle(&link, &p, &lossy, t0() + Duration::from_millis(350));
    assert_eq!(at_rto, (1280, 100), "no restart at all when idle for exactly the RTO");
}

#[test]
fn the_after_state_records_the_last_send() {
    let p = plan(&ideal(), &Conn::Cold, GET, 100_000, t0(), 1);
    // Three rounds; the last one leaves the server 2 R after it started
    // sending, which was 1.5 R after the fetch began.
    let want = t0() + Duration::from_secs_f64(1.5 * R + 2.0 * R);
    let got = p.response.after.last_send;
    let diff = got.duration_since(want).unwrap_or_else(|e| e.duration());
    assert!(diff < Duration::from_micros(1), "{got:?} vs {want:?}");
}

#[test]
fn a_headers_only_response_is_one_leg() {
    let p = plan(&ideal(), &fresh_warm(10), GET, 0, t0(), 1);
    assert_eq!(p.response.round_count, 1);
    assert!(close(p.total(), 1e3 * R));
    assert_eq!(p.rounds().last().map(|r| r.end), Some(0));
}

#[test]
fn the_same_seed_gives_the_same_plan_and_others_differ() {
    let link = Link { loss: 0.02, jitter: Jitter::Normal { sigma: Dur::millis(10) }, ..tls() };
    let rounds = |seed| plan(&link, &Conn::Cold, GET, 1_000_000, t0(), seed).rounds().collect::<Vec<_>>();
    assert_eq!(rounds(7), rounds(7));
    assert_ne!(rounds(7), rounds(8));
}

#[test]
fn a_lost_tail_segment_costs_an_rto() {
    // One segment, loss 20%: some seeds lose it. It is the tail (nothing
    // follows to make duplicate ACKs), so it arrives an RTO (R + 200 ms) late.
    let link = Link { loss: 0.2, ..ideal() };
    let (mut lost, mut kept) = (0, 0);
    for seed in 0..200 {
        let r = Response::new(&link, &fresh_warm(10), 1000, t0(), seed);
        if r.losses.timeouts == 1 {
            lost += 1;
            assert!(close(r.last_byte, 1e3 * (R / 2.0 + R + 0.2)), "{:?}", r.last_byte);
            assert_eq!((r.after.cwnd, r.after.ssthresh), (2, 2));
        } else {
            kept += 1;
            assert!(close(r.last_byte, 1e3 * R / 2.0));
        }
    }
    assert!((20..=60).contains(&lost) && kept > 0, "{lost} of 200 lost at p = 0.2");
}

#[test]
fn a_loss_among_the_last_three_segments_is_a_tail_loss() {
    // Ten segments in one window: a loss at segment 7, 8 or 9 has fewer
    // than three segments after it, so it waits for the RTO; the window
    // falls to one and grows back by the segments retransmitted from the
    // hole on (10 − k), below ssthresh = 10 / 2.
    let link = Link { loss: 0.05, ..ideal() };
    let mut seen = [false; 3];
    for seed in 0..3000 {
        let r = Response::new(&link, &fresh_warm(10), 14_600, t0(), seed);
        if r.losses != (Losses { fast_retransmits: 0, timeouts: 1 }) {
            continue;
        }
        let rounds: Vec<Round> = r.rounds().collect();
        let k = (rounds[0].end / 1460) as u32;
        assert!((7..=9).contains(&k), "a timeout for a loss at segment {k}");
        seen[(k - 7) as usize] = true;
        assert!(close(rounds[0].last, 1e3 * R / 2.0));
        assert!(close(r.last_byte, 1e3 * (R / 2.0 + R + 0.2)), "{:?}", r.last_byte);
        assert_eq!((r.after.cwnd, r.after.ssthresh), (1 + 10 - k, 5));
    }
    assert_eq!(seen, [true; 3]);
}

#[test]
fn the_first_lost_segment_is_anywhere_in_the_window() {
    // At a small loss rate the first loss is close to uniform over the
    // window: its mean position in 100 segments is near 49.5.
    let link = Link { loss: 0.001, ..ideal() };
    let mut positions = Vec::new();
    for seed in 0..6000 {
        let r = Response::new(&link, &fresh_warm(100), 146_000, t0(), seed);
        if r.losses.fast_retransmits + r.losses.timeouts == 1 {
            let first = r.rounds().next().expect("a round");
            positions.push(if first.end < 146_000 { first.end / 1460 } else { 0 });
        }
    }
    let mean = positions.iter().sum::<u64>() as f64 / positions.len() as f64;
    assert!(positions.len() > 300, "{}", positions.len());
    assert!((44.0..=55.0).contains(&mean), "{mean}");
    assert!(positions.iter().any(|k| *k < 10) && positions.iter().any(|k| *k > 90));
}

#[test]
fn a_fast_retransmit_costs_one_round_trip_and_halves_the_window() {
    // 100 segments in one window; a loss with three or more segments after
    // it is repaired by fast retransmit: the hole fills one RTT later, so
    // the last byte is in at R/2 + R, and the window halves to 50.
    let link = Link { loss: 0.005, ..ideal() };
    let mut seen = 0;
    for seed in 0..400 {
        let r = Response::new(&link, &fresh_warm(100), 146_000, t0(), seed);
        if r.losses == (Losses { fast_retransmits: 1, timeouts: 0 }) {
            seen += 1;
            assert!(close(r.last_byte, 1e3 * 1.5 * R), "{:?}", r.last_byte);
            assert_eq!((r.after.cwnd, r.after.ssthresh), (50, 50));
            // Bytes before the hole arrive on time, the rest with it.
            let rounds: Vec<Round> = r.rounds().collect();
            if rounds.len() == 2 {
                assert!(close(rounds[0].last, 1e3 * R / 2.0));
                assert!(rounds[0].end < 146_000 && rounds[0].end.is_multiple_of(1460));
            }
        }
    }
    assert!(seen > 50, "{seen}");
}

#[test]
fn after_a_fast_retransmit_the_next_round_waits_a_round_trip_and_grows_linearly() {
    // 500 kB = 343 segments from a window of 100. Take the seeds whose only
    // loss is in the first window. By hand: round 0 (100 segments) leaves at
    // 0, its hole fills at R/2 + R; the window halves to 50 = ssthresh and
    // the next round leaves a round trip late, at 2R. Congestion avoidance
    // then adds a segment per full window: 50 (at 2R), 51 (3R), 52 (4R),
    // 53 (5R), and the last 37 (6R) arrive at 6.5R; the window ends at 54.
    let link = Link { loss: 0.01, ..ideal() };
    let mut seen = 0;
    for seed in 0..3000 {
        let r = Response::new(&link, &fresh_warm(100), 500_000, t0(), seed);
        let rounds: Vec<Round> = r.rounds().collect();
        let first_window = rounds.iter().position(|x| x.end == 146_000).expect("the first window ends a piece");
        let hole_in_first = close(rounds[first_window].last, 1e3 * 1.5 * R);
        if r.losses != (Losses { fast_retransmits: 1, timeouts: 0 }) || !hole_in_first {
            continue;
        }
        seen += 1;
        let later: Vec<u64> = rounds[first_window + 1..].iter().map(|x| x.end).collect();
        // 146 000 + 73 000 (50 segments), + 74 460 (51), + 75 920 (52), + 77 380 (53), + the last 53 240.
        assert_eq!(later, [219_000, 293_460, 369_380, 446_760, 500_000]);
        for (i, x) in rounds[first_window + 1..].iter().enumerate() {
            assert!(close(x.first, 1e3 * R * (2.5 + i as f64)), "round {i}: {x:?}");
        }
        assert!(close(r.last_byte, 1e3 * 6.5 * R), "{:?}", r.last_byte);
        assert_eq!((r.after.cwnd, r.after.ssthresh), (54, 50));
    }
    assert!(seen > 20, "{seen}");
    // Without loss: 100, 200, 43 segments: three round trips less half.
    assert!(close(Response::new(&ideal(), &fresh_warm(100), 500_000, t0(), 0).last_byte, 1e3 * 2.5 * R));
}

#[test]
fn loss_frequency_matches_the_per_segment_probability() {
    // P(some loss among 10 segments) = 1 − 0.99¹⁰ = 9.56 %.
    let link = Link { loss: 0.01, ..ideal() };
    let n = 4000;
    let hit = (0..n)
        .filter(|s| {
            let l = Response::new(&link, &fresh_warm(10), 14_600, t0(), *s).losses;
            l.fast_retransmits + l.timeouts > 0
        })
        .count();
    let share = hit as f64 / n as f64;
    assert!((share - 0.0956).abs() < 0.015, "{share}");
}

#[test]
fn a_lost_handshake_packet_waits_the_initial_rto_or_the_rto() {
    // Loss 20%, no TLS, a one-segment request: a lost SYN/SYN-ACK costs the
    // initial RTO (1 s); a lost request (the upload's tail) costs the RTO.
    let link = Link { loss: 0.2, ..ideal() };
    let (mut syn, mut req) = (false, false);
    for seed in 0..300 {
        let mut rng = Rng::new(seed);
        let (at, losses) = request_time(&link, &Conn::Cold, GET, &mut rng);
        if losses.timeouts == 1 {
            let extra = ms(at) - 1e3 * 1.5 * R;
            if (extra - 1000.0).abs() < 0.001 {
                syn = true;
            } else if (extra - 1e3 * (R + 0.2)).abs() < 0.001 {
                req = true;
            } else {
                panic!("one timeout cost {extra} ms");
            }
        }
    }
    assert!(syn && req, "both kinds seen: syn {syn}, request {req}");
}

#[test]
fn normal_jitter_keeps_a_round_trip_within_six_sigma() {
    // A warm one-round fetch is two legs (request up, response down), each
    // with its own draw of at most ±3σ.
    let link = Link { jitter: Jitter::Normal { sigma: Dur::millis(5) }, ..ideal() };
    let totals: Vec<f64> = (0..2000).map(|s| ms(plan(&link, &fresh_warm(10), GET, 10_000, t0(), s).total())).collect();
    assert!(totals.iter().all(|t| (t - 150.0).abs() <= 30.0 + 1e-6), "outside ±6σ");
    let mean = totals.iter().sum::<f64>() / totals.len() as f64;
    assert!((mean - 150.0).abs() < 0.5, "{mean}");
    assert!(totals.iter().any(|t| (t - 150.0).abs() > 5.0), "jitter applied");
}

#[test]
fn pareto_jitter_only_delays_and_is_capped() {
    let link = Link { jitter: Jitter::Pareto { scale: Dur::millis(2), shape: 1.2, max: Dur::millis(40) }, ..ideal() };
    for s in 0..2000 {
        let t = ms(plan(&link, &fresh_warm(10), GET, 10_000, t0(), s).total());
        assert!((150.0 - 1e-6..=150.0 + 80.0 + 1e-6).contains(&t), "{t}");
    }
}

#[test]
fn big_jitter_never_reorders_rounds_or_goes_negative() {
    // σ = 60 ms on a 150 ms path: draws below −75 ms are clamped, and
    // arrivals stay in order.
    let link = Link { jitter: Jitter::Normal { sigma: Dur::millis(60) }, ..ideal() };
    for s in 0..300 {
        let p = plan(&link, &Conn::Cold, GET, 1_000_000, t0(), s);
        let rounds: Vec<Round> = p.response.rounds().collect();
        assert!(rounds.windows(2).all(|w| w[0].last <= w[1].first));
        assert!(rounds.iter().all(|r| r.first <= r.last));
        assert!(p.request_at_server >= Duration::from_secs_f64(R / 2.0));
    }
}

#[test]
fn rounds_are_consistent_whatever_the_link() {
    let mut rng = Rng::new(99);
    for seed in 0..300 {
        let link = Link {
            rtt: Duration::from_micros(500 + rng.below(300_000)),
            jitter: if rng.below(2) == 0 { Jitter::None } else { Jitter::Normal { sigma: Dur::millis(rng.below(20)) } },
            loss: [0.0, 0.001, 0.05, 0.2][rng.below(4) as usize],
            bandwidth: Bandwidth(56_000 + rng.below(10_000_000_000)),
            tls: rng.below(2) == 0,
            tcp: Default::default(),
        };
        let bytes = rng.below(5_000_000);
        let conn = if rng.below(2) == 0 { Conn::Cold } else { fresh_warm(1 + rng.below(3000) as u32) };
        let p = plan(&link, &conn, GET, bytes, t0(), seed);
        let rounds: Vec<Round> = p.response.rounds().collect();
        assert_eq!(rounds.len() as u32, p.response.round_count);
        assert_eq!(rounds.last().map(|r| r.end), Some(bytes), "{link:?}");
        assert_eq!(rounds.last().map(|r| r.last), Some(p.response.last_byte));
        assert_eq!(rounds.first().map(|r| r.first), Some(p.response.first_byte));
        for w in rounds.windows(2) {
            assert!(w[0].last <= w[1].first && w[0].end <= w[1].end, "{w:?}");
        }
        assert!(p.response.after.cwnd >= 1);
        assert!(p.response.bytes_by(p.response.last_byte) == bytes);
    }
}

#[test]
fn bytes_by_spreads_a_round_over_its_serialization() {
    // Warm window of 1286 at 100 Mbit/s: 1 MB goes in one round that takes
    // 80 ms to serialize; half-way, half the bytes are in.
    let link = Link { bandwidth: Bandwidth::mbit(100), ..ideal() };
    let r = Response::new(&link, &fresh_warm(1286), 1_000_000, t0(), 1);
    assert_eq!(r.round_count, 1);
    assert_eq!(r.bytes_by(r.first_byte - Duration::from_micros(1)), 0);
    let mid = r.first_byte + (r.last_byte - r.first_byte) / 2;
    let half = r.bytes_by(mid);
    assert!((499_000..=501_000).contains(&half), "{half}");
    assert_eq!(r.bytes_by(r.last_byte), 1_000_000);
}

#[test]
fn time_scale_divides_every_offset() {
    let p = plan(&tls(), &Conn::Cold, GET, 1_000_000, t0(), 1);
    let last = p.rounds().last().expect("rounds");
    let wall = last.to_wall(60.0);
    assert!(close(wall.last, 1350.0 / 60.0), "{:?}", wall.last);
    assert_eq!(wall.end, last.end);
    assert_eq!(to_wall(Duration::from_secs(3), 1.0), Duration::from_secs(3));
}

#[test]
fn a_plan_is_small_and_needs_no_heap() {
    // The rounds are an iterator over fixed-size state; nothing grows with
    // the object size (the allocation count is checked in tests/transfer_alloc.rs).
    assert!(std::mem::size_of::<Plan>() <= 320, "{}", std::mem::size_of::<Plan>());
}
