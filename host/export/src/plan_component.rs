//! The plan as a component of its own: a memory holding the plan's bytes and a `plan` function
//! that returns them, exporting `karman:exported/plan`. It is the one part of an exported app
//! made per app; the sequencer and the adapter import it.

use wasm_encoder::{
    CodeSection, ConstExpr, DataSection, ExportKind, ExportSection, Function, FunctionSection,
    MemorySection, MemoryType, Module, TypeSection, ValType,
};
use wit_component::{ComponentEncoder, StringEncoding};

/// The interface, as `wit/export.wit` declares it (a test keeps the two equal).
pub const PLAN_WIT: &str = "package karman:exported@0.1.0;

/// The exported app: its request handlers and its components' grants, as JSON
/// (`karman-export-plan`). `karman export` writes it into a component of its own.
interface plan {
    plan: func() -> list<u8>;
}

/// The plan, as `karman export` writes it.
world plan-data {
    export plan;
}
";

/// Where the plan's bytes start in the memory; the (pointer, length) pair `plan` returns is at 0.
const PLAN_OFFSET: u32 = 16;

/// A component exporting `karman:exported/plan` whose `plan` returns `plan`.
pub fn plan_component(plan: &[u8]) -> Result<Vec<u8>, String> {
    let mut resolve = wit_parser::Resolve::default();
    let package = resolve
        .push_str("plan.wit", PLAN_WIT)
        .map_err(|e| format!("{e:#}"))?;
    let world = resolve
        .select_world(&[package], Some("plan-data"))
        .map_err(|e| format!("{e:#}"))?;
    let mut module = core_module(plan)?;
    wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8)
        .map_err(|e| format!("{e:#}"))?;
    ComponentEncoder::default()
        .module(&module)
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| format!("the plan's component: {e:#}"))
}

/// The core module: the plan in a data segment, its pointer and length at 0.
fn core_module(plan: &[u8]) -> Result<Vec<u8>, String> {
    let length = u32::try_from(plan.len()).map_err(|_| "the plan is larger than 4 GiB")?;
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], [ValType::I32]);
    module.section(&types);
    let mut functions = FunctionSection::new();
    functions.function(0);
    module.section(&functions);
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: (u64::from(PLAN_OFFSET) + u64::from(length)).div_ceil(1 << 16),
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    module.section(&memories);
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("karman:exported/plan@0.1.0#plan", ExportKind::Func, 0);
    module.section(&exports);
    let mut code = CodeSection::new();
    let mut function = Function::new([]);
    function.instructions().i32_const(0).end();
    code.function(&function);
    module.section(&code);
    let mut data = DataSection::new();
    let mut pair = PLAN_OFFSET.to_le_bytes().to_vec();
    pair.extend_from_slice(&length.to_le_bytes());
    data.active(0, &ConstExpr::i32_const(0), pair);
    data.active(
        0,
        &ConstExpr::i32_const(PLAN_OFFSET as i32),
        plan.iter().copied(),
    );
    module.section(&data);
    Ok(module.finish())
}
