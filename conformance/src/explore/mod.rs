//! `pass-conformance explore`: model-based random exploration of a live
//! implementation (issue 14, DESIGN decisions 130–134).
//!
//! Each run starts from a fresh target, draws operations from the reference model's
//! state ([`op::generate`], documented weights) and checks every observation
//! against pass-core's model of the protocol seen from outside
//! ([`pass_core::sim::reference`]). The first mismatch is shrunk to a
//! minimal operation sequence that still fails on a fresh run, and written as a
//! [`mod@replay`] file. In process (inproc, wasm) time is virtual and the run is a
//! function of `--seed`: run `r` draws from the seed `seed + r`.

pub mod exec;
pub mod op;
pub mod replay;
pub mod targets;

use crate::harness::{Harness, TargetInfo};
use async_trait::async_trait;
use exec::{Explorer, StepError, Timing};
use op::Op;
use pass_core::sim::reference::{Reference, ReferenceConfig};
use rand::SeedableRng;
use replay::Replay;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// A target explore can start afresh for each run (and each shrinking try).
#[async_trait(?Send)]
pub trait Target {
    /// What the replay file and the summary call it.
    fn describe(&self) -> String;
    /// A target in its initial state (a network target: cleaned up and reachable).
    async fn fresh(&mut self) -> Result<Box<dyn Harness>, String>;
    /// The harness of a finished run, back (a network target keeps its connection).
    async fn done(&mut self, h: Box<dyn Harness>);
    /// What the model knows of the service.
    fn reference(&self, info: &TargetInfo) -> ReferenceConfig;
    /// How long the explorer waits for what.
    fn timing(&self) -> Timing;
    /// Whether the nemesis (a cut XMPP stream) applies.
    fn nemesis(&self) -> bool {
        false
    }
    /// Stops what the target started (a spawned implementation).
    async fn finish(&mut self) {}
}

/// A target built afresh by a function: inproc (with or without a fault) and wasm.
pub struct InProcess {
    /// What it is called.
    pub name: String,
    /// Makes a fresh host.
    pub make: Box<dyn Fn() -> Result<Box<dyn Harness>, String>>,
    /// The proxy window of the hosted service.
    pub proxy_window: Duration,
    /// The pool size, if the model is to judge 502s (`--pool-size`).
    pub pool_size: Option<usize>,
    /// The timing tolerance.
    pub tolerance: Duration,
}

#[async_trait(?Send)]
impl Target for InProcess {
    fn describe(&self) -> String {
        self.name.clone()
    }

    async fn fresh(&mut self) -> Result<Box<dyn Harness>, String> {
        (self.make)()
    }

    async fn done(&mut self, _h: Box<dyn Harness>) {}

    fn reference(&self, info: &TargetInfo) -> ReferenceConfig {
        model_config(info, self.proxy_window, self.pool_size, self.tolerance)
    }

    fn timing(&self) -> Timing {
        Timing {
            settle: Duration::from_millis(100),
            io_wait: Duration::from_secs(5),
        }
    }
}

/// The model's view of a target from its facts and the explorer's options.
pub fn model_config(
    info: &TargetInfo,
    proxy_window: Duration,
    pool_size: Option<usize>,
    tolerance: Duration,
) -> ReferenceConfig {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    ReferenceConfig {
        service: info.service.clone(),
        tolerance_ms: ms(tolerance),
        answer_wait_ms: ms(info.answer_wait),
        answer_timeout_ms: ms(info.impl_answer_timeout),
        proxy_window_ms: ms(proxy_window),
        pool_size,
        max_idle_ms: None,
    }
}

/// What a run of explore is asked to do.
#[derive(Clone, Debug)]
pub struct ExploreOptions {
    /// The seed (run `r` uses `seed + r`).
    pub seed: u64,
    /// Operations per run.
    pub steps: usize,
    /// Runs.
    pub runs: usize,
    /// Stop starting steps after this long (the runs so far count).
    pub time_budget: Option<Duration>,
    /// Accounts the operations act as (2 resources each).
    pub accounts: u8,
    /// Most fresh runs shrinking may try.
    pub shrink_tries: usize,
    /// Longest shrinking may take (each try reruns from fresh: on a network target
    /// with real waits that adds up); the shortest sequence so far is the result.
    pub shrink_time: Duration,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        ExploreOptions {
            seed: 0,
            steps: 200,
            runs: 10,
            time_budget: None,
            accounts: 2,
            shrink_tries: 300,
            shrink_time: Duration::from_secs(120),
        }
    }
}

/// What explore went through.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Summary {
    /// The seed.
    pub seed: u64,
    /// Runs started.
    pub runs: usize,
    /// Operations carried out (skipped ones not counted).
    pub steps: usize,
    /// Operations drawn that had nothing to act on.
    pub skipped: usize,
    /// How often each operation was carried out.
    pub operations: BTreeMap<String, usize>,
    /// The model states reached.
    pub states: BTreeSet<String>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// How explore ended.
#[derive(Debug)]
pub enum Outcome {
    /// No mismatch.
    Passed(Summary),
    /// A mismatch, shrunk.
    Found(Box<Replay>, Summary),
}

/// The ops of one finished sequence run: how far it got and how it ended.
struct SeqRun {
    /// Per op: whether it was carried out (false: skipped).
    done: Vec<bool>,
    /// The op index and error of the first mismatch.
    failure: Option<(usize, StepError)>,
    transcript: crate::transcript::Transcript,
}

async fn run_ops(target: &mut dyn Target, ops: &[Op], accounts: u8) -> Result<SeqRun, String> {
    let h = target.fresh().await?;
    let model = Reference::new(target.reference(h.info()));
    let mut ex = Explorer::start(h, model, target.timing(), accounts, target.nemesis())
        .await
        .map_err(|e| mismatch_text(&e))?;
    let mut done = Vec::new();
    let mut failure = None;
    for (i, op) in ops.iter().enumerate() {
        match ex.apply(*op).await {
            Ok(d) => done.push(d),
            Err(StepError::Harness(e)) => return Err(format!("the harness broke down: {e}")),
            Err(e) => {
                done.push(true);
                failure = Some((i, e));
                break;
            }
        }
    }
    ex.cleanup().await;
    let transcript = ex.transcript().clone();
    target.done(ex.into_harness()).await;
    Ok(SeqRun {
        done,
        failure,
        transcript,
    })
}

fn mismatch_text(e: &StepError) -> String {
    match e {
        StepError::Mismatch(m) | StepError::Harness(m) => m.clone(),
    }
}

/// Shrinks a failing sequence: removes every operation of one kind at once, then
/// chunks (halves, then quarters, ... single operations) while a fresh run still fails, cuts each failing run after its
/// failing operation, and finally drops operations that were skipped. Gives the
/// shortest failing sequence found and its run.
async fn shrink(
    target: &mut dyn Target,
    mut ops: Vec<Op>,
    accounts: u8,
    tries: usize,
    time: Duration,
) -> Result<(Vec<Op>, SeqRun), String> {
    let started = Instant::now();
    let out_of_time = || started.elapsed() >= time;
    let settle = target.timing().settle;
    let mut best = run_ops(target, &ops, accounts).await?;
    let Some((at, _)) = best.failure else {
        return Err("the failing sequence passed when run again (not deterministic?)".into());
    };
    ops.truncate(at + 1);
    let mut left = tries;
    // Rounds until one removes nothing (or the tries run out): a removal can make
    // another one possible.
    loop {
        let before = ops.len();
        // First whole kinds of operation at once (waits, malformed requests, ...):
        // one try each removes most of the noise of a long sequence.
        for name in Op::NAMES {
            if out_of_time() {
                left = 0;
            }
            if left == 0 || !ops.iter().any(|o| o.name() == name) {
                continue;
            }
            let candidate: Vec<Op> = ops.iter().copied().filter(|o| o.name() != name).collect();
            left -= 1;
            let run = run_ops(target, &candidate, accounts).await?;
            if let Some((at, _)) = run.failure {
                ops = candidate;
                ops.truncate(at + 1);
                best = run;
            }
        }
        let mut chunk = ops.len().div_ceil(2).max(1);
        loop {
            let mut i = 0;
            while i < ops.len() && left > 0 && !out_of_time() {
                let mut candidate = ops.clone();
                let end = (i + chunk).min(candidate.len());
                let removed: Vec<Op> = candidate.drain(i..end).collect();
                left -= 1;
                let mut run = run_ops(target, &candidate, accounts).await?;
                // A fault that needs time to pass (a timer) needs the time the
                // removed operations took: try again with one wait as long.
                let wait = time_taken(&removed, settle);
                if run.failure.is_none()
                    && left > 0
                    && removed.iter().any(|o| o.name() != "wait")
                    && wait > 0
                {
                    candidate.insert(i, Op::Wait { ms: wait });
                    left -= 1;
                    run = run_ops(target, &candidate, accounts).await?;
                }
                if let Some((at, _)) = run.failure {
                    candidate.truncate(at + 1);
                    ops = candidate;
                    best = run;
                } else {
                    i += chunk;
                }
            }
            if chunk == 1 || left == 0 || out_of_time() {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
        if ops.len() == before || left == 0 || out_of_time() {
            break;
        }
    }
    // Skipped operations acted on nothing: without them the run is the same.
    let kept: Vec<Op> = ops
        .iter()
        .zip(best.done.iter().chain(std::iter::repeat(&true)))
        .filter(|(_, d)| **d)
        .map(|(o, _)| *o)
        .collect();
    if kept.len() < ops.len() {
        let run = run_ops(target, &kept, accounts).await?;
        if run.failure.is_some() {
            return Ok((kept, run));
        }
    }
    Ok((ops, best))
}

/// How long `ops` take on the explorer's clock at least (their waits and settles),
/// in milliseconds.
fn time_taken(ops: &[Op], settle: Duration) -> u32 {
    let settle = u32::try_from(settle.as_millis()).unwrap_or(u32::MAX);
    ops.iter()
        .map(|o| match o {
            Op::Wait { ms } => ms.saturating_add(settle),
            _ => settle,
        })
        .fold(0u32, u32::saturating_add)
}

/// Explores `target` as `opts` says.
pub async fn explore(target: &mut dyn Target, opts: &ExploreOptions) -> Result<Outcome, String> {
    let started = Instant::now();
    let mut summary = Summary {
        seed: opts.seed,
        ..Summary::default()
    };
    let over = |summary: &Summary| {
        opts.time_budget.is_some_and(|b| started.elapsed() >= b) && summary.steps > 0
    };
    for run in 0..opts.runs {
        if over(&summary) {
            break;
        }
        summary.runs += 1;
        let seed = opts.seed.wrapping_add(run as u64);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let h = target.fresh().await?;
        let model = Reference::new(target.reference(h.info()));
        let mut ex = Explorer::start(h, model, target.timing(), opts.accounts, target.nemesis())
            .await
            .map_err(|e| format!("run {run}: {}", mismatch_text(&e)))?;
        let mut ops = Vec::new();
        let mut failure = None;
        for step in 0..opts.steps {
            if over(&summary) {
                break;
            }
            let op = op::generate(&mut rng, &ex.choices());
            ops.push(op);
            match ex.apply(op).await {
                Ok(true) => {
                    summary.steps += 1;
                    *summary.operations.entry(op.name().to_string()).or_insert(0) += 1;
                }
                Ok(false) => summary.skipped += 1,
                Err(StepError::Harness(e)) => {
                    return Err(format!(
                        "run {run}, step {step}: the harness broke down: {e}"
                    ))
                }
                Err(e) => {
                    summary.steps += 1;
                    failure = Some((step, e));
                    break;
                }
            }
        }
        summary.states.extend(ex.model().states().iter().cloned());
        let transcript = ex.transcript().clone();
        ex.cleanup().await;
        target.done(ex.into_harness()).await;
        if let Some((step, first)) = failure {
            if opts.shrink_tries == 0 {
                // Not shrunk: the run as it went.
                summary.seconds = started.elapsed().as_secs_f64();
                let replay = Replay {
                    target: target.describe(),
                    seed: opts.seed,
                    run,
                    found_at: step + 1,
                    mismatch: mismatch_text(&first),
                    ops,
                    transcript,
                };
                return Ok(Outcome::Found(Box::new(replay), summary));
            }
            let (ops, run_result) = shrink(
                target,
                ops,
                opts.accounts,
                opts.shrink_tries,
                opts.shrink_time,
            )
            .await?;
            let mismatch = run_result
                .failure
                .as_ref()
                .map(|(_, e)| mismatch_text(e))
                .unwrap_or_else(|| mismatch_text(&first));
            summary.seconds = started.elapsed().as_secs_f64();
            let replay = Replay {
                target: target.describe(),
                seed: opts.seed,
                run,
                found_at: step + 1,
                mismatch,
                ops,
                transcript: run_result.transcript,
            };
            return Ok(Outcome::Found(Box::new(replay), summary));
        }
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(Outcome::Passed(summary))
}

/// Reruns the operations of a replay file on a fresh target: `Some` with what did
/// not match, `None` when the implementation passes them.
pub async fn replay(
    target: &mut dyn Target,
    ops: &[Op],
    accounts: u8,
) -> Result<Option<Replay>, String> {
    let run = run_ops(target, ops, accounts).await?;
    Ok(run
        .failure
        .map(|(at, e)| {
            Box::new(Replay {
                target: target.describe(),
                seed: 0,
                run: 0,
                found_at: at + 1,
                mismatch: mismatch_text(&e),
                ops: ops[..=at].to_vec(),
                transcript: run.transcript,
            })
        })
        .map(|b| *b))
}

/// The summary as text.
pub fn summary_text(s: &Summary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let rate = if s.seconds > 0.0 {
        s.steps as f64 / s.seconds
    } else {
        0.0
    };
    let _ = writeln!(
        out,
        "explore: no mismatch in {} steps over {} runs ({} drawn operations skipped), \
         {:.1} s, {rate:.0} steps/s",
        s.steps, s.runs, s.skipped, s.seconds
    );
    let _ = writeln!(out, "seed: {}", s.seed);
    let covered: Vec<String> = Op::NAMES
        .iter()
        .map(|n| format!("{n} {}", s.operations.get(*n).copied().unwrap_or(0)))
        .collect();
    let _ = writeln!(out, "operations: {}", covered.join(", "));
    let states: Vec<&str> = s.states.iter().map(String::as_str).collect();
    let _ = writeln!(
        out,
        "states reached ({}): {}",
        states.len(),
        states.join(", ")
    );
    out
}
