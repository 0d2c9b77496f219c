//! Invalid Documents are rejected by the API server with the schema's message.

use doc_controller::Document;
use doc_controller::document::{MAX_CONTENT_CHARS, MAX_TITLE_CHARS};
use kube::api::{Api, PostParams};

use crate::harness::*;

async fn rejection(docs: &Api<Document>, doc: &Document) -> String {
    match docs.create(&PostParams::default(), doc).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"), "{s:?}");
            s.message
        }
        other => panic!("the API server accepted an invalid Document: {other:?}"),
    }
}

#[tokio::test]
async fn invalid_documents_are_rejected_with_the_schemas_message() {
    let (admin, ns) = setup("validation").await;
    let docs: Api<Document> = Api::namespaced(admin, &ns);

    let message = rejection(&docs, &document("empty-title", "", false, false)).await;
    assert!(
        message.contains("spec.title") && message.contains("should be at least 1 chars long"),
        "{message}"
    );

    let long_title = "t".repeat(MAX_TITLE_CHARS + 1);
    let message = rejection(&docs, &document("long-title", &long_title, false, false)).await;
    assert!(
        message.contains("spec.title: Too long: may not be more than 256"),
        "{message}"
    );

    let mut big = document("big", "Big", false, false);
    big.spec.content = "a".repeat(MAX_CONTENT_CHARS + 1);
    let message = rejection(&docs, &big).await;
    assert!(
        message.contains("spec.content must be at most 512 KiB"),
        "{message}"
    );
    assert!(
        message.len() < 1000,
        "the message quotes the content: {} bytes",
        message.len()
    );

    // The limits are inclusive, and empty content is fine.
    let mut max = document("max", &"t".repeat(MAX_TITLE_CHARS), false, false);
    max.spec.content = "a".repeat(MAX_CONTENT_CHARS);
    docs.create(&PostParams::default(), &max)
        .await
        .expect("a Document at the limits is valid");
    let mut empty = document("empty", "Empty", false, false);
    empty.spec.content = String::new();
    docs.create(&PostParams::default(), &empty)
        .await
        .expect("empty content is valid");
}
