//! The unit test that doc-controller's modules import each other one way only (see
//! `kubewhy_testenv::module_graph`).

#[test]
fn modules_depend_one_way() {
    kubewhy_testenv::module_graph::assert_one_way(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
    );
}
