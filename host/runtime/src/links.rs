//! Components that import each other: an interface one component of the app exports (a team's
//! own WIT package, e.g. `acme:pricing/calc`), linked into the components that declare
//! `imports: { "acme:pricing/calc": pricing }`.
//!
//! The importer's linker gets a host function for each function of the interface; a call
//! runs the exporter's function on **an instance of the exporter, in a store of its own, with
//! the exporter's grants and limits** — never the importer's. The exporter instance is made at
//! the first call and lives as long as the importing instance (one step, or a warm instance's
//! uses with `reuse:`), then is dropped with it: nothing is shared between requests, as for
//! steps, and the exporter's state carries from one call to the next within a step. Its traps
//! trap the importer; the importer's timeout covers the calls.
//!
//! Values cross by copy (the canonical ABI lifts them out of one instance and lowers them into
//! the other), so an interface whose functions take or return resources cannot be linked: a
//! handle means nothing in another store. Loading refuses it, as it refuses an exporter that
//! does not export the interface, or exports it with other types, naming both components.

use std::collections::HashMap;
use std::sync::Arc;

use karman_directive::{ComponentLink, Location};
use wasmtime::component::types::{ComponentFunc, ComponentItem, Type};
use wasmtime::component::{Component, ComponentExportIndex, Instance, Linker, Val};
use wasmtime::{Engine, Store};

use crate::capabilities::log::CurrentRequest;
use crate::capabilities::request::RequestCtx;
use crate::component::LoadedComponent;
use crate::instance::new_store;
use crate::store::StepState;

/// The exporter instances an importing instance has made, by link.
#[derive(Default)]
pub(crate) struct LinkedInstances(Vec<Option<LinkedInstance>>);

/// An instance of an exporter, in its own store.
struct LinkedInstance {
    store: Store<StepState>,
    instance: Instance,
}

/// One link of an importer, resolved: the exporter. Each host function of the link holds the
/// index of its exporter's function, found once at load.
struct ResolvedLink {
    /// Which of the importer's links (the slot of its instance in [`LinkedInstances`]).
    slot: usize,
    exporter: Arc<LoadedComponent>,
    /// The interface, as the exporter names it.
    interface: String,
}

/// A link that cannot be made: where it is declared, and why.
pub(crate) struct LinkError {
    pub(crate) location: Location,
    pub(crate) message: String,
}

/// The linker of an importer: `base` and, for each of its links (each with its loaded
/// exporter), host functions that call the exporter. Checks that the importer imports each
/// interface, that its exporter exports it, and that the two agree on every function's types.
pub(crate) fn linker_for(
    engine: &Engine,
    base: &Linker<StepState>,
    importer: &Component,
    links: Vec<(&ComponentLink, Arc<LoadedComponent>)>,
) -> Result<Linker<StepState>, LinkError> {
    let mut linker = base.clone();
    let imports: Vec<(String, ComponentItem)> = importer
        .component_type()
        .imports(engine)
        .map(|(name, item)| (name.to_string(), item.ty))
        .collect();
    for (slot, (link, exporter)) in links.into_iter().enumerate() {
        define_link(engine, &mut linker, &imports, slot, link, exporter).map_err(|message| {
            LinkError {
                location: link.location.clone(),
                message,
            }
        })?;
    }
    Ok(linker)
}

/// Checks one link and defines the importer's functions of its interface in `linker`.
fn define_link(
    engine: &Engine,
    linker: &mut Linker<StepState>,
    imports: &[(String, ComponentItem)],
    slot: usize,
    link: &ComponentLink,
    exporter: Arc<LoadedComponent>,
) -> Result<(), String> {
    let Some((import_name, ComponentItem::ComponentInstance(wanted))) =
        imports.iter().find(|(name, _)| link.names(name))
    else {
        return Err(format!(
            "it declares `imports: {{ \"{}\": {} }}`, but does not import that interface \
             (what it imports from other components: {})",
            link.interface,
            link.from,
            list(
                imports
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .filter(|name| !name.starts_with("wasi:") && !name.starts_with("karman:"))
            )
        ));
    };
    let exported = exporter
        .component
        .component_type()
        .exports(engine)
        .map(|(name, item)| (name.to_string(), item.ty))
        .find(|(name, _)| link.names(name));
    let Some((export_name, ComponentItem::ComponentInstance(offered))) = exported else {
        return Err(format!(
            "imports `{import_name}` from `{}`, which does not export it",
            exporter.name
        ));
    };
    if import_name.split('@').nth(1) != export_name.split('@').nth(1) {
        return Err(format!(
            "imports `{import_name}` from `{}`, which exports `{export_name}`: the versions differ",
            exporter.name
        ));
    }
    let offered: HashMap<String, ComponentItem> = offered
        .exports(engine)
        .map(|(name, item)| (name.to_string(), item.ty))
        .collect();
    let interface = exporter
        .component
        .get_export_index(None, export_name.as_str())
        .ok_or_else(|| format!("`{}` has no export `{export_name}`", exporter.name))?;
    let mut functions: Vec<(String, ComponentExportIndex)> = Vec::new();
    let mut instance = linker
        .instance(import_name)
        .map_err(|e| format!("cannot link `{import_name}`: {e}"))?;
    for (name, item) in wanted.exports(engine) {
        let wanted_func = match item.ty {
            ComponentItem::ComponentFunc(func) => func,
            ComponentItem::Type(_) => continue,
            ComponentItem::Resource(_) => {
                return Err(format!(
                    "imports `{import_name}` from `{}`, but it defines the resource `{name}`: \
                     interfaces with resources cannot be linked between components",
                    exporter.name
                ));
            }
            _ => {
                return Err(format!(
                    "imports `{import_name}` from `{}`, whose item `{name}` is not a function",
                    exporter.name
                ));
            }
        };
        if func_mentions_resource(&wanted_func) {
            return Err(format!(
                "imports `{import_name}` from `{}`, but `{name}` passes a resource: \
                 interfaces with resources cannot be linked between components",
                exporter.name
            ));
        }
        match offered.get(name) {
            Some(ComponentItem::ComponentFunc(offered_func))
                if same_signature(&wanted_func, offered_func) => {}
            Some(ComponentItem::ComponentFunc(_)) => {
                return Err(format!(
                    "imports `{import_name}` from `{}`, whose `{name}` has other types \
                     (build both against the same WIT)",
                    exporter.name
                ));
            }
            _ => {
                return Err(format!(
                    "imports `{import_name}` from `{}`, which has no function `{name}` in it",
                    exporter.name
                ));
            }
        }
        let index = exporter
            .component
            .get_export_index(Some(&interface), name)
            .ok_or_else(|| format!("`{}` has no function `{name}`", exporter.name))?;
        functions.push((name.to_string(), index));
    }
    let resolved = Arc::new(ResolvedLink {
        slot,
        exporter: exporter.clone(),
        interface: export_name.clone(),
    });
    for (name, index) in functions {
        let resolved = resolved.clone();
        instance
            .func_new_async(&name, move |mut store, _ty, params, results| {
                let resolved = resolved.clone();
                Box::new(
                    async move { call(store.data_mut(), &resolved, index, params, results).await },
                )
            })
            .map_err(|e| format!("cannot link `{import_name}`.`{name}`: {e}"))?;
    }
    Ok(())
}

/// Runs the exporter's function at `index` on the importing instance's exporter instance (made
/// now if this is the first call).
async fn call(
    importer: &mut StepState,
    link: &ResolvedLink,
    index: ComponentExportIndex,
    params: &[Val],
    results: &mut [Val],
) -> wasmtime::Result<()> {
    let slots = &mut importer.linked.0;
    if slots.len() <= link.slot {
        slots.resize_with(link.slot + 1, || None);
    }
    let mut linked = match slots[link.slot].take() {
        Some(linked) => linked,
        None => {
            let exporter = &link.exporter;
            let pre = exporter.entry.instance_pre();
            let request = CurrentRequest::new(importer.log.request.get());
            let mut store = new_store(exporter, RequestCtx::idle(), request);
            store.set_epoch_deadline(1);
            let instantiating = std::time::Instant::now();
            let instance = pre.instantiate_async(&mut store).await?;
            exporter
                .series
                .observe_instantiation(instantiating.elapsed());
            LinkedInstance { store, instance }
        }
    };
    let func = linked
        .instance
        .get_func(&mut linked.store, index)
        .ok_or_else(|| {
            wasmtime::format_err!(
                "`{}` of `{}` lacks a function it was loaded with",
                link.interface,
                link.exporter.name
            )
        })?;
    linked.store.set_epoch_deadline(1);
    func.call_async(&mut linked.store, params, results).await?;
    importer.linked.0[link.slot] = Some(linked);
    Ok(())
}

/// Whether two functions take and return the same types (names of parameters included).
fn same_signature(a: &ComponentFunc, b: &ComponentFunc) -> bool {
    a.params().len() == b.params().len()
        && a.params()
            .zip(b.params())
            .all(|((a_name, a_ty), (b_name, b_ty))| a_name == b_name && a_ty == b_ty)
        && a.results().len() == b.results().len()
        && a.results().zip(b.results()).all(|(a, b)| a == b)
}

/// Whether a function takes or returns a resource handle, at any depth.
fn func_mentions_resource(func: &ComponentFunc) -> bool {
    func.params().any(|(_, ty)| mentions_resource(&ty))
        || func.results().any(|ty| mentions_resource(&ty))
}

fn mentions_resource(ty: &Type) -> bool {
    match ty {
        Type::Own(_) | Type::Borrow(_) => true,
        Type::List(list) => mentions_resource(&list.ty()),
        Type::Record(record) => record.fields().any(|field| mentions_resource(&field.ty)),
        Type::Tuple(tuple) => tuple.types().any(|ty| mentions_resource(&ty)),
        Type::Variant(variant) => variant
            .cases()
            .any(|case| case.ty.as_ref().is_some_and(mentions_resource)),
        Type::Option(option) => mentions_resource(&option.ty()),
        Type::Result(result) => {
            result.ok().as_ref().is_some_and(mentions_resource)
                || result.err().as_ref().is_some_and(mentions_resource)
        }
        _ => false,
    }
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|name| format!("`{name}`")).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}
