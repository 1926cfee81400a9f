//! TEMPORARY STUB (replaced by the real parser)
#[derive(Debug, Default)]
pub struct Headers {}
impl Headers {
    pub const EMPTY: Headers = Headers {};
    pub fn is_empty(&self) -> bool {
        true
    }
    pub fn for_request(&self, _host: Option<&str>, _path: &str) -> Vec<(String, String)> {
        Vec::new()
    }
}
