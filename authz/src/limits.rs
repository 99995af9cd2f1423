//! Bounds on the shape of Cedar text, checked before Cedar parses it: Cedar's
//! parser recurses once per nesting level and per operator, so text without
//! such bounds could exhaust a thread's stack and abort the whole process.

/// Most levels of brackets (`(`, `[`, `{`, and `<` in a schema) one text may nest.
pub const MAX_NESTING: usize = 32;

/// Most operators (`&&`, `||`, comparisons, arithmetic, `!`, `.`, `if`, `in`,
/// `has`, `like`, `is`) in one policy. The HMS policy set needs at most 32.
pub const MAX_OPERATORS: usize = 256;

/// Where a text breaks a bound, and which bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeViolation {
    /// Byte offset of the token that broke the bound.
    pub offset: usize,
    /// What is wrong, naming the bound.
    pub message: String,
}

/// Whether policy text stays within [`MAX_NESTING`] and, policy by policy, [`MAX_OPERATORS`].
pub fn check_policies(text: &str) -> Result<(), ShapeViolation> {
    scan(text, Syntax::Policies)
}

/// Whether schema text stays within [`MAX_NESTING`] (angle brackets count).
pub fn check_schema(text: &str) -> Result<(), ShapeViolation> {
    scan(text, Syntax::Schema)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Syntax {
    Policies,
    Schema,
}

const KEYWORD_OPERATORS: [&str; 5] = ["if", "in", "has", "like", "is"];

fn scan(text: &str, syntax: Syntax) -> Result<(), ShapeViolation> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut operators = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let byte = bytes[i];
        i += 1;
        match byte {
            b'/' if bytes.get(i) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => i = string_end(bytes, i),
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(violation(
                        start,
                        format!("brackets nest deeper than {MAX_NESTING} levels, the most allowed"),
                    ));
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'<' if syntax == Syntax::Schema => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(violation(
                        start,
                        format!("types nest deeper than {MAX_NESTING} levels, the most allowed"),
                    ));
                }
            }
            b'>' if syntax == Syntax::Schema => depth = depth.saturating_sub(1),
            b';' if depth == 0 => operators = 0,
            _ if syntax == Syntax::Policies => {
                let counted = match byte {
                    b'&' | b'|' | b'=' if bytes.get(i) == Some(&byte) => {
                        i += 1;
                        true
                    }
                    b'!' | b'<' | b'>' => {
                        if bytes.get(i) == Some(&b'=') {
                            i += 1;
                        }
                        true
                    }
                    b'+' | b'-' | b'*' | b'.' => true,
                    b if b.is_ascii_alphabetic() || b == b'_' => {
                        while i < bytes.len()
                            && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_')
                        {
                            i += 1;
                        }
                        KEYWORD_OPERATORS.contains(&&text[start..i])
                    }
                    _ => false,
                };
                if counted {
                    operators += 1;
                    if operators > MAX_OPERATORS {
                        return Err(violation(
                            start,
                            format!(
                                "a policy has more than {MAX_OPERATORS} operators, the most allowed; split it into several policies"
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The offset just past the string literal whose opening quote precedes `i`.
fn string_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

fn violation(offset: usize, message: String) -> ShapeViolation {
    ShapeViolation { offset, message }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn nested_parens(levels: usize) -> String {
        format!(
            "@id(\"deep\") permit(principal, action, resource) when {{ {}true{} }};",
            "(".repeat(levels),
            ")".repeat(levels)
        )
    }

    fn and_chain(terms: usize) -> String {
        let chain = vec!["principal == principal"; terms].join(" && ");
        format!("@id(\"long\") permit(principal, action, resource) when {{ {chain} }};")
    }

    fn nested_ifs(levels: usize) -> String {
        let ifs = "if true then ".repeat(levels);
        let elses = " else false".repeat(levels);
        format!("@id(\"ifs\") permit(principal, action, resource) when {{ {ifs}true{elses} }};")
    }

    #[test]
    fn the_inputs_that_overflowed_the_stack_are_refused_naming_the_bound() {
        let parens = check_policies(&nested_parens(145)).unwrap_err();
        assert!(parens.message.contains("32 levels"), "{}", parens.message);
        let chain = check_policies(&and_chain(845)).unwrap_err();
        assert!(chain.message.contains("256 operators"), "{}", chain.message);
        assert!(check_policies(&nested_ifs(5000)).is_err());
    }

    #[test]
    fn text_within_the_bounds_passes() {
        // One level is the `when` braces.
        assert_eq!(check_policies(&nested_parens(MAX_NESTING - 1)), Ok(()));
        assert!(check_policies(&nested_parens(MAX_NESTING)).is_err());
        // Each term has one `==`, each join one `&&`.
        assert_eq!(check_policies(&and_chain(128)), Ok(()));
        assert!(check_policies(&and_chain(129)).is_err());
        for (name, text) in hms_policies::POLICY_FILES {
            assert_eq!(check_policies(text), Ok(()), "{name}");
        }
        assert_eq!(check_schema(hms_policies::SCHEMA), Ok(()));
    }

    #[test]
    fn operators_are_counted_per_policy_and_never_inside_strings_or_comments() {
        let many = and_chain(100).repeat(10);
        assert_eq!(check_policies(&many), Ok(()));
        let quoted = format!(
            "// {}\n@id(\"{}\") permit(principal, action, resource);",
            "&& ".repeat(1000),
            "(\\\"".repeat(1000)
        );
        assert_eq!(check_policies(&quoted), Ok(()));
    }

    #[test]
    fn schemas_nest_types_at_most_so_deep() {
        let deep = format!(
            "entity A {{ a: {}Long{} }};",
            "Set<".repeat(40),
            ">".repeat(40)
        );
        let refused = check_schema(&deep).unwrap_err();
        assert!(refused.message.contains("32 levels"), "{}", refused.message);
    }
}
