//! Writes `schemas/`: each event detail-type's JSON Schema, generated from the types notify
//! serializes (`make schemas`). A test fails while the committed files differ.

use std::path::Path;

fn main() -> std::io::Result<()> {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
    for (file, schema) in notify::events::schemas() {
        let mut text = serde_json::to_string_pretty(&schema)?;
        text.push('\n');
        std::fs::write(out.join(&file), text)?;
        println!("schemas/{file}");
    }
    Ok(())
}
