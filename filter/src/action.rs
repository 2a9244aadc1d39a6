//! `block_action`: what happens to a request once it is refused.
//!
//! Tempesta sorts refusals in two classes. *Errors* are requests the proxy cannot serve: a
//! malformed message (the parser's verdict) or one it has no route for. *Attacks* are
//! requests refused on purpose: every frang limit and an HTTP tables `block`. (Tempesta's own
//! frang tests configure `block_action attack reply` to see frang's 403s, which confirms that
//! message-level limits such as `http_uri_len` are attacks too, not errors.)
//!
//! For each class the administrator picks `reply` (answer, then close the connection) or
//! `drop` (close at once, answering nothing, which costs the least and tells a scanner the
//! least), and `nolog`.

use super::Limit;

/// A refusal class, see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// A request the proxy cannot serve (malformed, no route).
    Error,
    /// A request refused on purpose (frang, HTTP tables `block`).
    Attack,
}

impl Class {
    /// The status of a `reply`: 400 for errors (the caller may know better, e.g. 404 for no
    /// route), 403 for attacks, as Tempesta answers frang refusals. No 429 for the rates:
    /// Tempesta does not send it, and a `Retry-After` would only help the attacker pace.
    pub const fn status(self) -> u16 {
        match self {
            Self::Error => 400,
            Self::Attack => 403,
        }
    }
}

impl Limit {
    /// The class of a refusal for this limit: always [`Class::Attack`], as in Tempesta;
    /// [`Class::Error`] is for the parser's and the router's refusals, which are not limits.
    pub const fn class(self) -> Class {
        Class::Attack
    }
}

/// `reply` or `drop`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response {
    /// Send a response (see [`Class::status`]), then close the connection.
    Reply,
    /// Close the connection (RST) without a response.
    Drop,
}

/// The action for one class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassAction {
    /// Reply or drop.
    pub response: Response,
    /// Log the refusal (`nolog` clears it). Logs are still rate-limited per client
    /// ([`ClientTable::should_log`](super::ClientTable::should_log)).
    pub log: bool,
}

/// `block_action error ...; block_action attack ...;`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockAction {
    /// For [`Class::Error`].
    pub error: ClassAction,
    /// For [`Class::Attack`].
    pub attack: ClassAction,
}

/// A `block_action` configuration that cannot work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockActionError {
    /// `block_action attack reply` with `ip_block`: the block drops the client's packets at
    /// once, so the reply would never arrive; Tempesta refuses the combination.
    AttackReplyWithIpBlock,
}

impl BlockAction {
    /// Tempesta's defaults: errors are answered, attacks dropped, both logged.
    pub const DEFAULT: Self = Self {
        error: ClassAction {
            response: Response::Reply,
            log: true,
        },
        attack: ClassAction {
            response: Response::Drop,
            log: true,
        },
    };

    /// The action for `class`.
    pub const fn for_class(&self, class: Class) -> ClassAction {
        match class {
            Class::Error => self.error,
            Class::Attack => self.attack,
        }
    }

    /// Checks the combination with frang's `ip_block` (`None`: off).
    pub const fn validate(&self, ip_block: Option<u32>) -> Result<(), BlockActionError> {
        match (self.attack.response, ip_block) {
            (Response::Reply, Some(_)) => Err(BlockActionError::AttackReplyWithIpBlock),
            _ => Ok(()),
        }
    }
}

impl Default for BlockAction {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let b = BlockAction::default();
        assert_eq!(b.for_class(Class::Error).response, Response::Reply);
        assert_eq!(b.for_class(Class::Attack).response, Response::Drop);
        assert!(b.error.log && b.attack.log);
        assert_eq!(b.validate(Some(0)), Ok(()));
    }

    #[test]
    fn attack_reply_conflicts_with_ip_block() {
        let b = BlockAction {
            attack: ClassAction {
                response: Response::Reply,
                log: false,
            },
            ..BlockAction::DEFAULT
        };
        assert_eq!(b.validate(None), Ok(()));
        assert_eq!(
            b.validate(Some(60)),
            Err(BlockActionError::AttackReplyWithIpBlock)
        );
        assert_eq!(
            b.validate(Some(0)),
            Err(BlockActionError::AttackReplyWithIpBlock)
        );
        // Errors may be answered whatever ip_block says.
        let e = BlockAction {
            error: ClassAction {
                response: Response::Drop,
                log: false,
            },
            ..BlockAction::DEFAULT
        };
        assert_eq!(e.validate(Some(1)), Ok(()));
    }

    #[test]
    fn classes_and_statuses() {
        assert!(Limit::ALL.iter().all(|l| l.class() == Class::Attack));
        assert_eq!(Class::Attack.status(), 403);
        assert_eq!(Class::Error.status(), 400);
    }
}
