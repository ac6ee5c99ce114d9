//! A guest that loops or hoards memory is stopped with an error naming the limit,
//! and a module that does not speak the ABI is refused at load or instantiation.

mod wasm_support;

use pass_conformance::inproc::reference_config;
use pass_conformance::wasm::{wasm_host, GuestLimits, WasmError, WasmModule};
use pass_conformance::{catalogue, run_suite, RunOptions, Status};
use pass_core::engine::Engine;
use pass_core::ns;
use pass_core::time::Instant;
use pass_core::xml::Element;
use wasm_support::testdata;

fn stanza() -> Element {
    Element::new("iq", ns::COMPONENT)
        .with_attr("type", "get")
        .with_attr("id", "x1")
        .with_attr("from", "user@localhost/r")
        .with_attr("to", "pass.localhost")
}

fn load(name: &str, limits: GuestLimits) -> WasmModule {
    WasmModule::load(&testdata(name), limits).unwrap()
}

#[test]
fn looping_guest_exhausts_its_fuel() {
    let limits = GuestLimits {
        fuel_per_event: 2_000_000,
        ..GuestLimits::default()
    };
    let mut engine = load("loop.wat", limits)
        .instantiate(&reference_config(), None)
        .unwrap();
    assert_eq!(engine.failure(), None);
    engine.handle_stanza(Instant::from_millis(1), &stanza());
    let failure = engine.failure().cloned();
    assert_eq!(
        failure,
        Some(WasmError::FuelExhausted { budget: 2_000_000 })
    );
    assert_eq!(
        failure.unwrap().to_string(),
        "engine exceeded its fuel budget of 2000000 per event"
    );
    // A stopped engine stays stopped: no actions, no deadline, events ignored.
    engine.handle_timeout(Instant::from_millis(2));
    assert_eq!(engine.poll_action(), None);
    assert_eq!(engine.poll_timeout(), None);
}

#[test]
fn greedy_guest_hits_its_memory_cap() {
    let limits = GuestLimits {
        memory_mib: 8,
        ..GuestLimits::default()
    };
    let mut engine = load("greedy.wat", limits)
        .instantiate(&reference_config(), None)
        .unwrap();
    engine.handle_stanza(Instant::from_millis(1), &stanza());
    let failure = engine.failure().cloned();
    assert_eq!(failure, Some(WasmError::MemoryCap { mib: 8 }));
    assert_eq!(
        failure.unwrap().to_string(),
        "engine exceeded its memory cap of 8 MiB"
    );
}

#[test]
fn initial_memory_over_the_cap_is_refused_at_instantiation() {
    let wat = std::fs::read_to_string(testdata("idle.wat")).unwrap();
    // 200 pages = 12.5 MiB of initial memory against a 4 MiB cap.
    let wat = wat.replace(
        "(memory (export \"memory\") 2)",
        "(memory (export \"memory\") 200)",
    );
    let limits = GuestLimits {
        memory_mib: 4,
        ..GuestLimits::default()
    };
    let module = WasmModule::from_bytes(wat.as_bytes(), limits).unwrap();
    let err = module.instantiate(&reference_config(), None).err();
    assert_eq!(err, Some(WasmError::MemoryCap { mib: 4 }));
}

#[test]
fn suite_against_a_looping_guest_ends_with_the_limit_named() {
    let limits = GuestLimits {
        fuel_per_event: 1_000_000,
        ..GuestLimits::default()
    };
    let module = load("loop.wat", limits);
    let host = wasm_host(&module, None).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cases = catalogue();
    let (report, _) = rt.block_on(run_suite(
        Box::new(host),
        "wasm loop.wat",
        &cases,
        &RunOptions::default(),
    ));
    assert_eq!(report.outcomes.len(), cases.len());
    for o in &report.outcomes {
        let said = format!("{:?} {:?}", o.notes, o.failure_text());
        // Cases that never reach the engine (none today) could pass; none may hang.
        if o.status != Status::Fail {
            continue;
        }
        assert!(
            said.contains("engine exceeded its fuel budget of 1000000 per event"),
            "{}: {said}",
            o.id
        );
    }
    assert!(report.count(Status::Fail) > 0);
}

#[test]
fn module_without_the_abi_is_refused() {
    let idle = std::fs::read_to_string(testdata("idle.wat")).unwrap();
    let config = reference_config();
    let instantiate = |wat: String| {
        WasmModule::from_bytes(wat.as_bytes(), GuestLimits::default())?.instantiate(&config, None)
    };

    let v2 = idle.replace("(result i32) (i32.const 1)", "(result i32) (i32.const 2)");
    let err = instantiate(v2).err().unwrap();
    assert_eq!(
        err,
        WasmError::Abi("module speaks version 2, this host 1".into())
    );

    let no_handle = idle.replace("(export \"pass_handle\")", "");
    let err = instantiate(no_handle).err().unwrap();
    assert_eq!(
        err,
        WasmError::Abi("no exported function `pass_handle`".into())
    );

    let wrong_import = idle.replace("(memory", "(import \"env\" \"clock\" (func))\n  (memory");
    assert!(
        matches!(instantiate(wrong_import), Err(WasmError::Abi(m)) if m.contains("env::clock"))
    );

    let garbled = idle.replace("next none\\n", "nxt  none\\n");
    let err = instantiate(garbled).err().unwrap();
    assert!(
        matches!(&err, WasmError::Protocol(m) if m.contains("unknown record \"nxt\"")),
        "{err}"
    );

    assert!(matches!(
        WasmModule::from_bytes(b"(module", GuestLimits::default()),
        Err(WasmError::Load(_))
    ));
}
