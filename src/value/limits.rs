//! Limits on values that enter the server. Every decoder (protobuf, EDN) enforces them while it
//! reads, before it recurses or allocates, so hostile input costs bounded stack and memory.

use super::Limit;

/// The largest depth a configuration may ask for: recursion over a value (decode, encode, print,
/// compare, hash) is bounded by the depth, and this keeps it inside a 2 MiB thread stack even in
/// an unoptimised build (512 levels do not fit there). Note that protobuf libraries commonly stop
/// at 100 nested messages, which is about 50 levels of vectors or 33 of maps: clients built on
/// them cannot read values as deep as the server's default limit allows.
pub const MAX_CONFIGURABLE_DEPTH: usize = 256;

/// Configurable bounds on one incoming value (one message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueLimits {
    /// Maximum nesting depth; a scalar at top level has depth 1. Default 64.
    pub max_depth: usize,
    /// Maximum elements (or entries) in one collection. Default 100,000.
    pub max_collection_elements: usize,
    /// Maximum values in one message, counting every nested value. Default 1,000,000.
    pub max_total_nodes: usize,
    /// Maximum bytes in one string, name, big integer or byte string. Default 1 MiB.
    pub max_string_bytes: usize,
    /// Maximum bytes of one encoded message (or EDN text). Default 16 MiB.
    pub max_message_bytes: usize,
}

impl Default for ValueLimits {
    fn default() -> Self {
        ValueLimits {
            max_depth: 64,
            max_collection_elements: 100_000,
            max_total_nodes: 1_000_000,
            max_string_bytes: 1 << 20,
            max_message_bytes: 16 << 20,
        }
    }
}

impl ValueLimits {
    /// The value of one limit.
    pub fn get(&self, limit: Limit) -> usize {
        match limit {
            Limit::Depth => self.max_depth,
            Limit::CollectionElements => self.max_collection_elements,
            Limit::TotalNodes => self.max_total_nodes,
            Limit::StringBytes => self.max_string_bytes,
            Limit::MessageBytes => self.max_message_bytes,
        }
    }

    /// Checks that the limits are usable: every limit at least 1 and the depth at most
    /// [`MAX_CONFIGURABLE_DEPTH`].
    pub fn validate(&self) -> Result<(), String> {
        for limit in Limit::ALL {
            if self.get(limit) == 0 {
                return Err(format!("{} must be at least 1", limit.name()));
            }
        }
        if self.max_depth > MAX_CONFIGURABLE_DEPTH {
            return Err(format!(
                "{} must be at most {MAX_CONFIGURABLE_DEPTH}, got {}",
                Limit::Depth.name(),
                self.max_depth
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones_and_valid() {
        let l = ValueLimits::default();
        assert_eq!(
            (l.max_depth, l.max_collection_elements, l.max_total_nodes),
            (64, 100_000, 1_000_000)
        );
        assert_eq!(
            (l.max_string_bytes, l.max_message_bytes),
            (1_048_576, 16_777_216)
        );
        assert_eq!(l.validate(), Ok(()));
    }

    #[test]
    fn validate_refuses_zero_and_excessive_depth() {
        let zero = ValueLimits {
            max_total_nodes: 0,
            ..ValueLimits::default()
        };
        assert!(zero.validate().unwrap_err().contains("max_total_nodes"));
        let at = ValueLimits {
            max_depth: MAX_CONFIGURABLE_DEPTH,
            ..ValueLimits::default()
        };
        assert_eq!(at.validate(), Ok(()));
        let past = ValueLimits {
            max_depth: MAX_CONFIGURABLE_DEPTH + 1,
            ..ValueLimits::default()
        };
        assert!(past.validate().unwrap_err().contains("max_depth"));
    }
}
