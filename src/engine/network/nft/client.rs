//! The nftables client: batches sent as one transaction over a [`Transport`], dumps read back,
//! and the operations built on them (add or remove the rules of a network or a port).

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use super::error::*;
use super::expr::*;
use super::rules::*;
use super::wire::*;
use crate::engine::network::transport::{NetlinkSocket, Transport};

/// How long one answer of the kernel may take before the request counts as failed.
pub(super) const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Dumps interrupted by a concurrent change are restarted this often.
pub(super) const DUMP_RETRIES: usize = 5;
/// A batch that deletes by handle fails with ENOENT when another process removed one of those
/// rules between our dump and our batch; then the whole operation is redone this often.
pub(super) const BATCH_RETRIES: usize = 3;

/// A synchronous nftables client bound to the network namespace it was created in.
#[derive(Debug)]
pub struct Nft {
    transport: Box<dyn Transport>,
    seq: u32,
}

/// What a reply loop collects.
enum Reply {
    Ack(u32),
    Error {
        seq: u32,
        errno: i32,
        msg: String,
    },
    /// One answer of a dump (its attributes); `interrupted` when a concurrent change made the
    /// dump inconsistent.
    Data {
        interrupted: bool,
        attrs: Vec<u8>,
    },
    Done,
}

impl Nft {
    /// Opens a client in the calling thread's network namespace.
    pub fn new() -> Result<Nft, NftError> {
        let socket = NetlinkSocket::netfilter(REPLY_TIMEOUT).map_err(|source| NftError::Io {
            op: "open netfilter netlink socket".to_string(),
            source,
        })?;
        Ok(Nft::with_transport(socket))
    }

    /// A client over any transport (a recording fake in tests).
    pub(crate) fn with_transport(transport: impl Transport + 'static) -> Nft {
        Nft {
            transport: Box::new(transport),
            seq: 0,
        }
    }

    /// Opens a client in the network namespace `ns`; the socket keeps talking to `ns` from any
    /// thread, and the caller's namespace never changes.
    pub fn new_in(ns: BorrowedFd<'_>) -> Result<Nft, NftError> {
        crate::engine::network::link::in_netns(ns, Nft::new).map_err(|e| NftError::Netns {
            op: "open netfilter netlink socket in another netns".into(),
            source: e,
        })?
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// Receives one datagram and splits it into replies.
    fn recv_replies(&mut self, op: &str) -> Result<Vec<Reply>, NftError> {
        let data = self.transport.recv().map_err(|e| {
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) {
                NftError::Timeout {
                    op: op.to_string(),
                    after: REPLY_TIMEOUT,
                }
            } else {
                NftError::Io {
                    op: op.to_string(),
                    source: e,
                }
            }
        })?;
        let mut out = Vec::new();
        let mut off = 0usize;
        while data.len().saturating_sub(off) >= 16 {
            let w = |at: usize| {
                u32::from_ne_bytes(data[off + at..off + at + 4].try_into().unwrap_or([0; 4]))
            };
            let len = w(0) as usize;
            let ty = (w(4) & 0xffff) as u16;
            let flags = (w(4) >> 16) as u16;
            let seq = w(8);
            if len < 16 || len > data.len() - off {
                return Err(invalid(op, format!("bad netlink message length {len}")));
            }
            let msg = &data[off..off + len];
            off += align4(len);
            match ty {
                NLMSG_ERROR => {
                    let errno = -i32::from_ne_bytes(
                        msg.get(16..20)
                            .and_then(|b| b.try_into().ok())
                            .ok_or_else(|| invalid(op, "short error message"))?,
                    );
                    if errno == 0 {
                        out.push(Reply::Ack(seq));
                        continue;
                    }
                    let mut text = String::new();
                    if flags & NLM_F_ACK_TLVS != 0 {
                        let orig_len = msg
                            .get(20..24)
                            .map(|b| u32::from_ne_bytes(b.try_into().unwrap_or([0; 4])) as usize)
                            .unwrap_or(0);
                        let tlv_at = 20
                            + if flags & NLM_F_CAPPED != 0 {
                                16
                            } else {
                                align4(orig_len)
                            };
                        if let Some(m) = msg.get(tlv_at..).and_then(|t| attr(t, NLMSGERR_ATTR_MSG))
                        {
                            text = cstr(m);
                        }
                    }
                    out.push(Reply::Error {
                        seq,
                        errno,
                        msg: text,
                    });
                }
                NLMSG_DONE => {
                    let code = msg
                        .get(16..20)
                        .map(|b| i32::from_ne_bytes(b.try_into().unwrap_or([0; 4])))
                        .unwrap_or(0);
                    if code < 0 {
                        out.push(Reply::Error {
                            seq,
                            errno: -code,
                            msg: String::new(),
                        });
                    } else {
                        out.push(Reply::Done);
                    }
                }
                _ => {
                    // nlmsghdr (16) + nfgenmsg (4), then attributes.
                    out.push(Reply::Data {
                        interrupted: flags & NLM_F_DUMP_INTR != 0,
                        attrs: msg.get(20..).unwrap_or(&[]).to_vec(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Sends `msgs` as one transaction (between BATCH_BEGIN and BATCH_END) and waits for the
    /// kernel's answer to each. Either all of them took effect, or none did and the error names
    /// the message the kernel refused.
    pub(super) fn batch(&mut self, msgs: &[BatchMsg]) -> Result<(), NftError> {
        if msgs.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        let s = self.next_seq();
        let at = put_header(
            &mut buf,
            NFNL_MSG_BATCH_BEGIN,
            NLM_F_REQUEST,
            s,
            0,
            NFNL_SUBSYS_NFTABLES,
        );
        finish(&mut buf, at);
        let mut pending: Vec<(u32, &str)> = Vec::new();
        for m in msgs {
            let seq = self.next_seq();
            let at = put_header(
                &mut buf,
                msg_type(m.ty),
                NLM_F_REQUEST | NLM_F_ACK | m.flags,
                seq,
                m.family,
                0,
            );
            buf.extend_from_slice(&m.body);
            finish(&mut buf, at);
            pending.push((seq, &m.what));
        }
        let s = self.next_seq();
        let at = put_header(
            &mut buf,
            NFNL_MSG_BATCH_END,
            NLM_F_REQUEST,
            s,
            0,
            NFNL_SUBSYS_NFTABLES,
        );
        finish(&mut buf, at);

        let op = format!("transaction of {} message(s)", msgs.len());
        let sent = self.transport.send(&buf).map_err(|e| NftError::Io {
            op: op.clone(),
            source: e,
        })?;
        if sent != buf.len() {
            return Err(invalid(
                &op,
                format!("short send ({sent} of {})", buf.len()),
            ));
        }
        let mut first_err: Option<NftError> = None;
        while !pending.is_empty() {
            let replies = match self.recv_replies(&op) {
                Ok(r) => r,
                // The kernel answers a whole batch before send() returns; once it refused a
                // message, the answers it did not send will not come.
                Err(NftError::Timeout { .. }) if first_err.is_some() => break,
                Err(e) => return Err(first_err.unwrap_or(e)),
            };
            for r in replies {
                match r {
                    Reply::Ack(seq) => pending.retain(|(s, _)| *s != seq),
                    Reply::Error { seq, errno, msg } => {
                        let what = pending
                            .iter()
                            .find(|(s, _)| *s == seq)
                            .map_or_else(|| op.clone(), |(_, w)| w.to_string());
                        pending.retain(|(s, _)| *s != seq);
                        if first_err.is_none() {
                            first_err = Some(NftError::Kernel {
                                op: what,
                                errno,
                                msg,
                            });
                            // Whatever else is queued is already there: do not wait long.
                            let _ = self.transport.set_non_blocking(true);
                        }
                    }
                    _ => {}
                }
            }
        }
        let _ = self.transport.set_non_blocking(false);
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// A `GET…` dump: the attribute payloads of every answer.
    pub(super) fn dump(
        &mut self,
        m: u16,
        family: u8,
        body: &[u8],
        op: &str,
    ) -> Result<Vec<Vec<u8>>, NftError> {
        let mut tries = 0;
        'again: loop {
            tries += 1;
            let seq = self.next_seq();
            let mut buf = Vec::new();
            let at = put_header(
                &mut buf,
                msg_type(m),
                NLM_F_REQUEST | NLM_F_DUMP,
                seq,
                family,
                0,
            );
            buf.extend_from_slice(body);
            finish(&mut buf, at);
            self.transport.send(&buf).map_err(|e| NftError::Io {
                op: op.to_string(),
                source: e,
            })?;
            let mut out = Vec::new();
            let mut interrupted = false;
            loop {
                for r in self.recv_replies(op)? {
                    match r {
                        Reply::Data {
                            interrupted: i,
                            attrs,
                        } => {
                            interrupted |= i;
                            out.push(attrs);
                        }
                        Reply::Error { seq: s, errno, msg } if s == seq => {
                            if interrupted && tries < DUMP_RETRIES {
                                continue 'again;
                            }
                            return Err(NftError::Kernel {
                                op: op.to_string(),
                                errno,
                                msg,
                            });
                        }
                        Reply::Done => {
                            if interrupted && tries < DUMP_RETRIES {
                                continue 'again;
                            }
                            return Ok(out);
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// Whether a table exists (`family`: 1 inet, 2 ip, 10 ip6).
    pub(super) fn has_table(&mut self, family: u8, name: &str) -> Result<bool, NftError> {
        let tables = self.dump(NFT_MSG_GETTABLE, family, &[], "list tables")?;
        Ok(tables
            .iter()
            .any(|t| attr(t, NFTA_TABLE_NAME).map(cstr).as_deref() == Some(name)))
    }

    /// Whether our table exists.
    pub fn table_exists(&mut self) -> Result<bool, NftError> {
        self.has_table(NFPROTO_INET, TABLE)
    }

    /// Creates our table and its base chains if missing.
    pub fn ensure_table(&mut self) -> Result<(), NftError> {
        self.batch(&ensure_msgs())
    }

    /// Every rule of a table (`family`, `table`), parsed back.
    pub(super) fn rules_of(
        &mut self,
        family: u8,
        table: &str,
    ) -> Result<Vec<ListedRule>, NftError> {
        let mut body = Vec::new();
        Attrs(&mut body).string(NFTA_RULE_TABLE, table);
        let op = format!("list rules of table {table}");
        let msgs = match self.dump(NFT_MSG_GETRULE, family, &body, &op) {
            Ok(m) => m,
            Err(e) if e.errno() == Some(libc::ENOENT) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for m in msgs {
            let t = attr(&m, NFTA_RULE_TABLE).map(cstr).unwrap_or_default();
            if t != table {
                continue;
            }
            let exprs = attr(&m, NFTA_RULE_EXPRESSIONS)
                .map(|list| {
                    attrs(list)
                        .filter(|(ty, _)| *ty == NFTA_LIST_ELEM)
                        .map(|(_, e)| decode_expr(e))
                        .collect()
                })
                .unwrap_or_default();
            out.push(ListedRule {
                family,
                table: t,
                chain: attr(&m, NFTA_RULE_CHAIN).map(cstr).unwrap_or_default(),
                handle: attr(&m, NFTA_RULE_HANDLE)
                    .and_then(be64)
                    .ok_or_else(|| invalid(&op, "rule without handle"))?,
                tag: attr(&m, NFTA_RULE_USERDATA).and_then(decode_tag),
                exprs,
            });
        }
        Ok(out)
    }

    /// Every rule of our table, in chain order (empty when the table does not exist).
    pub fn list_rules(&mut self) -> Result<Vec<ListedRule>, NftError> {
        self.rules_of(NFPROTO_INET, TABLE)
    }

    /// One transaction: delete the rules (of our table, and of iptables' `ip filter` when
    /// `iptables` is set) whose tag `drop` selects, then add `add`; retried when a rule vanished
    /// under us.
    fn replace(
        &mut self,
        drop: &dyn Fn(&str) -> bool,
        add: &[BatchMsg],
        iptables: bool,
    ) -> Result<usize, NftError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let mut existing = self.list_rules()?;
            if iptables && self.has_table(NFPROTO_IPV4, "filter")? {
                existing.extend(self.rules_of(NFPROTO_IPV4, "filter")?);
            }
            let dels: Vec<BatchMsg> = existing
                .iter()
                .filter(|r| r.tag.as_deref().is_some_and(drop))
                .map(delrule_msg)
                .collect();
            let n = dels.len();
            let mut msgs = Vec::new();
            if !add.is_empty() {
                msgs.extend(ensure_msgs());
            }
            msgs.extend(dels);
            let add_copy = add.iter().map(|m| BatchMsg {
                ty: m.ty,
                flags: m.flags,
                family: m.family,
                body: m.body.clone(),
                what: m.what.clone(),
            });
            msgs.extend(add_copy);
            match self.batch(&msgs) {
                Err(e) if e.errno() == Some(libc::ENOENT) && n > 0 && tries < BATCH_RETRIES => {}
                Err(e) => return Err(e),
                Ok(()) => return Ok(n),
            }
        }
    }

    /// Adds (or replaces) the rules of a network, creating our table when missing.
    pub fn add_network(&mut self, net: &NetworkRules) -> Result<(), NftError> {
        tracing::debug!(network = %net.name, bridge = %net.bridge, "nftables: adding network rules");
        let op = format!("add rules of network {}", net.name);
        check_ifname(&net.bridge, &op)?;
        let tag = net_tag(&net.bridge);
        // Rules an older version tagged with the network name are replaced too.
        let legacy = legacy_network(&net.name, &net.bridge).then(|| old_net_tag(&net.name));
        let msgs = rule_msgs(&network_rules(net), &op)?;
        self.replace(&|t| t == tag || legacy.as_deref() == Some(t), &msgs, false)
            .map(|_| ())
    }

    /// Removes every rule of the network `name` with bridge `bridge`: its own, those of its
    /// published ports, and its accepts in iptables' `ip filter` table (those an older version
    /// tagged with the network name included). Returns how many rules went.
    pub fn remove_network(&mut self, name: &str, bridge: &str) -> Result<usize, NftError> {
        tracing::debug!(network = name, bridge, "nftables: removing network rules");
        let mut tags = vec![net_tag(bridge)];
        let mut prefixes = vec![port_tag_prefix(bridge)];
        if legacy_network(name, bridge) {
            tags.push(old_net_tag(name));
            prefixes.push(port_tag_prefix(name));
        }
        self.replace(
            &|t| tags.iter().any(|x| x == t) || prefixes.iter().any(|x| t.starts_with(x)),
            &[],
            true,
        )
    }

    /// Adds (or replaces) the rules of a published port, creating our table when missing.
    pub fn add_port(&mut self, p: &PortMapping) -> Result<(), NftError> {
        tracing::debug!(port = ?p, "nftables: adding published port");
        let rules = port_rules(p)?;
        let op = format!("add rules of {}", port_tag(p));
        check_ifname(&p.bridge, &op)?;
        let tag = port_tag(p);
        let legacy = legacy_port_tag(p);
        let msgs = rule_msgs(&rules, &op)?;
        self.replace(&|t| t == tag || legacy.as_deref() == Some(t), &msgs, false)
            .map(|_| ())
    }

    /// Removes the rules of a published port (an older version's tag included); returns how
    /// many went.
    pub fn remove_port(&mut self, p: &PortMapping) -> Result<usize, NftError> {
        tracing::debug!(port = ?p, "nftables: removing published port");
        let tag = port_tag(p);
        let legacy = legacy_port_tag(p);
        self.replace(&|t| t == tag || legacy.as_deref() == Some(t), &[], false)
    }

    /// In a container's fresh network namespace: our table with only its `output` chain, and
    /// [`resolver_redirect_rules`], in one transaction.
    pub fn add_resolver_redirect(
        &mut self,
        addr: Ipv4Addr,
        from: u16,
        to: u16,
    ) -> Result<(), NftError> {
        let mut msgs = vec![
            table_msg(
                TABLE,
                NFPROTO_INET,
                NFT_MSG_NEWTABLE,
                format!("create table inet {TABLE}"),
            ),
            chain_msg(Chain::Output),
        ];
        msgs.extend(rule_msgs(
            &resolver_redirect_rules(addr, from, to),
            "redirect the embedded resolver's port",
        )?);
        self.batch(&msgs)
    }

    /// Deletes our table with everything in it; false when there was none.
    pub fn delete_table(&mut self) -> Result<bool, NftError> {
        tracing::debug!("nftables: deleting the table");
        let mut m = table_msg(
            TABLE,
            NFPROTO_INET,
            NFT_MSG_DELTABLE,
            format!("delete table inet {TABLE}"),
        );
        m.flags = 0;
        match self.batch(&[m]) {
            Ok(()) => Ok(true),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
