use ola_approx::*;
fn main() {
    for d in [3usize, 7, 15, 27, 31] {
        for eps in [2f64.powi(-13), 0.01, 0.5] {
            match odd_sign_minimax(d, eps) {
                Ok(r) => println!("d={d} eps={eps:.3e} err={:.6e} it={} ref={}", r.error, r.iterations, r.reference.len()),
                Err(e) => println!("d={d} eps={eps} ERR {e}"),
            }
        }
    }
    for a in [10u32, 12, 13, 14] {
        let t = std::time::Instant::now();
        let s = CompositeSign::published(a).unwrap();
        println!("alpha {a}: {:?} stage errs {:?} final {:.3e} log2 {:.2} cost {:?} ({:?})", s.degrees(), s.stage_errors(), s.error(), s.error().log2(), s.cost(), t.elapsed());
        let t = std::time::Instant::now();
        let r = search_sign_degrees(a, 4, 31);
        println!("  search -> {:?} ({:?})", r, t.elapsed());
    }
}
