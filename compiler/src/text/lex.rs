//! Tokens of one `.snnir` line, each with its 1-based column.

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: Tok,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// Keywords, handles and enum values: `[A-Za-z_][A-Za-z0-9_]*`.
    Word(String),
    /// A number as written (parsed later into the type the position needs).
    Number(String),
    Str(String),
    Eq,
    Arrow,
    Open,
    Close,
    Comma,
}

impl Tok {
    pub fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Number(n) => format!("number `{n}`"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Eq => "`=`".into(),
            Tok::Arrow => "`->`".into(),
            Tok::Open => "`[`".into(),
            Tok::Close => "`]`".into(),
            Tok::Comma => "`,`".into(),
        }
    }
}

/// Split a line into tokens; `;` starts a comment. Errors carry the column.
pub fn lex(line: &str) -> Result<Vec<Token>, (usize, String)> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        let single = match c {
            ' ' | '\t' | '\r' => {
                i += 1;
                continue;
            }
            ';' => break,
            '=' => Some(Tok::Eq),
            '[' => Some(Tok::Open),
            ']' => Some(Tok::Close),
            ',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(kind) = single {
            out.push(Token { kind, col });
            i += 1;
            continue;
        }
        if c == '-' && chars.get(i + 1) == Some(&'>') {
            out.push(Token {
                kind: Tok::Arrow,
                col,
            });
            i += 2;
            continue;
        }
        if c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err((col, "unterminated string".into())),
                    Some('"') => break,
                    Some('\\') => {
                        match chars.get(i + 1) {
                            Some('"') => s.push('"'),
                            Some('\\') => s.push('\\'),
                            Some('n') => s.push('\n'),
                            _ => {
                                return Err((
                                    i + 1,
                                    "unknown escape in string (use \\\", \\\\ or \\n)".into(),
                                ));
                            }
                        }
                        i += 2;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            i += 1;
            out.push(Token {
                kind: Tok::Str(s),
                col,
            });
            continue;
        }
        if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '.' | '-' | '+'))
            {
                // A `-` only continues a number right after an exponent marker.
                if matches!(chars[i], '-' | '+') && i > start && !matches!(chars[i - 1], 'e' | 'E')
                {
                    break;
                }
                i += 1;
            }
            out.push(Token {
                kind: Tok::Number(chars[start..i].iter().collect()),
                col,
            });
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token {
                kind: Tok::Word(chars[start..i].iter().collect()),
                col,
            });
            continue;
        }
        return Err((col, format!("unexpected character `{c}`")));
    }
    Ok(out)
}

/// Quote a string the way the lexer reads it back.
pub fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}
