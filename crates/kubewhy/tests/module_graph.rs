//! The library's modules import each other one way only: lower layers (the model, the vocabulary) never import
//! the pipeline above them, and no two top-level modules import each other (a module's facade and its own parts
//! may).

#[test]
fn modules_depend_one_way() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    kubewhy_testenv::module_graph::assert_top_level_one_way(&src);
}
