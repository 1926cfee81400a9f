//! The statuses wwz sends: a closed set, so a status is never a bare number
//! and every one has its reason phrase.

/// An HTTP status wwz sends (RFC 9110 §15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Ok,
    NoContent,
    PartialContent,
    MovedPermanently,
    Found,
    SeeOther,
    NotModified,
    TemporaryRedirect,
    PermanentRedirect,
    BadRequest,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    NotAcceptable,
    PreconditionFailed,
    RangeNotSatisfiable,
    RequestHeaderFieldsTooLarge,
    InternalServerError,
    NotImplemented,
    BadGateway,
    ServiceUnavailable,
    GatewayTimeout,
}

impl Status {
    const ALL: [Status; 22] = [
        Status::Ok,
        Status::NoContent,
        Status::PartialContent,
        Status::MovedPermanently,
        Status::Found,
        Status::SeeOther,
        Status::NotModified,
        Status::TemporaryRedirect,
        Status::PermanentRedirect,
        Status::BadRequest,
        Status::Forbidden,
        Status::NotFound,
        Status::MethodNotAllowed,
        Status::NotAcceptable,
        Status::PreconditionFailed,
        Status::RangeNotSatisfiable,
        Status::RequestHeaderFieldsTooLarge,
        Status::InternalServerError,
        Status::NotImplemented,
        Status::BadGateway,
        Status::ServiceUnavailable,
        Status::GatewayTimeout,
    ];

    /// The three-digit code.
    pub const fn code(self) -> u16 {
        self.entry().0
    }

    /// The reason phrase and a newline: the status line takes the phrase,
    /// a short error page the phrase and the newline.
    pub const fn text(self) -> &'static str {
        self.entry().1
    }

    /// The reason phrase.
    pub fn reason(self) -> &'static str {
        self.text().trim_end_matches('\n')
    }

    /// The status with this code, if wwz sends it.
    pub fn from_code(code: u16) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.code() == code)
    }

    const fn entry(self) -> (u16, &'static str) {
        match self {
            Status::Ok => (200, "OK\n"),
            Status::NoContent => (204, "No Content\n"),
            Status::PartialContent => (206, "Partial Content\n"),
            Status::MovedPermanently => (301, "Moved Permanently\n"),
            Status::Found => (302, "Found\n"),
            Status::SeeOther => (303, "See Other\n"),
            Status::NotModified => (304, "Not Modified\n"),
            Status::TemporaryRedirect => (307, "Temporary Redirect\n"),
            Status::PermanentRedirect => (308, "Permanent Redirect\n"),
            Status::BadRequest => (400, "Bad Request\n"),
            Status::Forbidden => (403, "Forbidden\n"),
            Status::NotFound => (404, "Not Found\n"),
            Status::MethodNotAllowed => (405, "Method Not Allowed\n"),
            Status::NotAcceptable => (406, "Not Acceptable\n"),
            Status::PreconditionFailed => (412, "Precondition Failed\n"),
            Status::RangeNotSatisfiable => (416, "Range Not Satisfiable\n"),
            Status::RequestHeaderFieldsTooLarge => (431, "Request Header Fields Too Large\n"),
            Status::InternalServerError => (500, "Internal Server Error\n"),
            Status::NotImplemented => (501, "Not Implemented\n"),
            Status::BadGateway => (502, "Bad Gateway\n"),
            Status::ServiceUnavailable => (503, "Service Unavailable\n"),
            Status::GatewayTimeout => (504, "Gateway Timeout\n"),
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code(), self.reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::from_code(s.code()), Some(s));
            assert!(s.text().ends_with('\n'));
        }
        assert_eq!(Status::from_code(418), None);
    }
}
