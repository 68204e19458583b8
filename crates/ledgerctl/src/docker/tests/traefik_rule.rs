//! Traefik's router rules, the part the stack's templates use (`Host`, `Path`, `PathPrefix`,
//! `&&`, `||`, `!`, parentheses), read and evaluated as Traefik does: so a test can ask which
//! requests a rendered router takes without running Traefik, which this machine cannot pull.

/// A parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rule {
    Host(String),
    Path(String),
    PathPrefix(String),
    Not(Box<Rule>),
    And(Box<Rule>, Box<Rule>),
    Or(Box<Rule>, Box<Rule>),
}

impl Rule {
    /// Whether a request for `host` and `path` matches.
    pub(crate) fn matches(&self, host: &str, path: &str) -> bool {
        match self {
            Rule::Host(h) => h.eq_ignore_ascii_case(host),
            Rule::Path(p) => p == path,
            Rule::PathPrefix(p) => path.starts_with(p.as_str()),
            Rule::Not(r) => !r.matches(host, path),
            Rule::And(a, b) => a.matches(host, path) && b.matches(host, path),
            Rule::Or(a, b) => a.matches(host, path) || b.matches(host, path),
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Rule, String> {
        let mut parser = Parser { text, at: 0 };
        let rule = parser.or()?;
        parser.space();
        if parser.at != text.len() {
            return Err(format!("unexpected `{}`", &text[parser.at..]));
        }
        Ok(rule)
    }
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn space(&mut self) {
        while self.text[self.at..].starts_with(' ') {
            self.at += 1;
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.space();
        if self.text[self.at..].starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Rule, String> {
        let mut rule = self.and()?;
        while self.eat("||") {
            rule = Rule::Or(Box::new(rule), Box::new(self.and()?));
        }
        Ok(rule)
    }

    fn and(&mut self) -> Result<Rule, String> {
        let mut rule = self.unary()?;
        while self.eat("&&") {
            rule = Rule::And(Box::new(rule), Box::new(self.unary()?));
        }
        Ok(rule)
    }

    fn unary(&mut self) -> Result<Rule, String> {
        if self.eat("!") {
            return Ok(Rule::Not(Box::new(self.unary()?)));
        }
        if self.eat("(") {
            let rule = self.or()?;
            if !self.eat(")") {
                return Err(format!("no `)` at {}", self.at));
            }
            return Ok(rule);
        }
        self.space();
        let rest = &self.text[self.at..];
        let name_len = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        let name = &rest[..name_len];
        self.at += name_len;
        if !self.eat("(`") {
            return Err(format!("`{name}` is not followed by (`…`)"));
        }
        let rest = &self.text[self.at..];
        let end = rest.find('`').ok_or("an argument has no closing `")?;
        let argument = rest[..end].to_owned();
        self.at += end + 1;
        if !self.eat(")") {
            return Err(format!("{name}: one argument only, then `)`"));
        }
        match name {
            "Host" => Ok(Rule::Host(argument)),
            "Path" => Ok(Rule::Path(argument)),
            "PathPrefix" => Ok(Rule::PathPrefix(argument)),
            other => Err(format!("the matcher {other} is not one this reader knows")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_read_and_evaluated_as_traefik_does() {
        let rule = Rule::parse(
            "Host(`a.example`) && (Path(`/`) || PathPrefix(`/api/`) && !Path(`/api/doc`))",
        )
        .unwrap();
        assert!(rule.matches("A.example", "/"));
        assert!(rule.matches("a.example", "/api/x"));
        assert!(!rule.matches("a.example", "/api/doc"));
        assert!(!rule.matches("b.example", "/"));
        assert!(!rule.matches("a.example", "/other"));
        assert!(Rule::parse("Host(`a`) && Method(`GET`)").is_err());
        assert!(Rule::parse("Host(`a`) &&").is_err());
        assert!(Rule::parse("(Path(`/`)").is_err());
    }
}
