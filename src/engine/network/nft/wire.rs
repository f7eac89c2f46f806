//! The wire format: encoding rules, chains and tables into nf_tables netlink messages, and
//! parsing the kernel's listings back.

use super::error::*;
use super::expr::*;
use super::rules::*;

// --- netlink / nfnetlink constants (uapi linux/netlink.h, nfnetlink.h, nf_tables.h) ---
pub(super) const NLM_F_REQUEST: u16 = 0x1;
pub(super) const NLM_F_ACK: u16 = 0x4;
pub(super) const NLM_F_DUMP_INTR: u16 = 0x10;
pub(super) const NLM_F_DUMP: u16 = 0x300;
pub(super) const NLM_F_CREATE: u16 = 0x400;
pub(super) const NLM_F_APPEND: u16 = 0x800;
pub(super) const NLM_F_CAPPED: u16 = 0x100;
pub(super) const NLM_F_ACK_TLVS: u16 = 0x200;
pub(super) const NLMSG_ERROR: u16 = 2;
pub(super) const NLMSG_DONE: u16 = 3;
pub(super) const NLMSGERR_ATTR_MSG: u16 = 1;
pub(super) const NLA_F_NESTED: u16 = 0x8000;
pub(super) const NLA_TYPE_MASK: u16 = 0x3fff;

pub(super) const NFNL_SUBSYS_NFTABLES: u16 = 10;
pub(super) const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
pub(super) const NFNL_MSG_BATCH_END: u16 = 0x11;

pub(super) const NFT_MSG_NEWTABLE: u16 = 0;
pub(super) const NFT_MSG_GETTABLE: u16 = 1;
pub(super) const NFT_MSG_DELTABLE: u16 = 2;
pub(super) const NFT_MSG_NEWCHAIN: u16 = 3;
pub(super) const NFT_MSG_GETCHAIN: u16 = 4;
pub(super) const NFT_MSG_NEWRULE: u16 = 6;
pub(super) const NFT_MSG_GETRULE: u16 = 7;
pub(super) const NFT_MSG_DELRULE: u16 = 8;

pub(super) const NFTA_TABLE_NAME: u16 = 1;
pub(super) const NFTA_CHAIN_TABLE: u16 = 1;
pub(super) const NFTA_CHAIN_NAME: u16 = 3;
pub(super) const NFTA_CHAIN_HOOK: u16 = 4;
pub(super) const NFTA_CHAIN_POLICY: u16 = 5;
pub(super) const NFTA_CHAIN_TYPE: u16 = 7;
pub(super) const NFTA_HOOK_HOOKNUM: u16 = 1;
pub(super) const NFTA_HOOK_PRIORITY: u16 = 2;
pub(super) const NFTA_RULE_TABLE: u16 = 1;
pub(super) const NFTA_RULE_CHAIN: u16 = 2;
pub(super) const NFTA_RULE_HANDLE: u16 = 3;
pub(super) const NFTA_RULE_EXPRESSIONS: u16 = 4;
pub(super) const NFTA_RULE_USERDATA: u16 = 7;
pub(super) const NFTA_LIST_ELEM: u16 = 1;
pub(super) const NFTA_EXPR_NAME: u16 = 1;
pub(super) const NFTA_EXPR_DATA: u16 = 2;
pub(super) const NFTA_DATA_VALUE: u16 = 1;
pub(super) const NFTA_DATA_VERDICT: u16 = 2;
pub(super) const NFTA_VERDICT_CODE: u16 = 1;
pub(super) const NFTA_VERDICT_CHAIN: u16 = 2;
pub(super) const NFTA_IMMEDIATE_DREG: u16 = 1;
pub(super) const NFTA_IMMEDIATE_DATA: u16 = 2;
pub(super) const NFTA_META_DREG: u16 = 1;
pub(super) const NFTA_META_KEY: u16 = 2;
pub(super) const NFTA_CMP_SREG: u16 = 1;
pub(super) const NFTA_CMP_OP: u16 = 2;
pub(super) const NFTA_CMP_DATA: u16 = 3;
pub(super) const NFTA_PAYLOAD_DREG: u16 = 1;
pub(super) const NFTA_PAYLOAD_BASE: u16 = 2;
pub(super) const NFTA_PAYLOAD_OFFSET: u16 = 3;
pub(super) const NFTA_PAYLOAD_LEN: u16 = 4;
pub(super) const NFTA_BITWISE_SREG: u16 = 1;
pub(super) const NFTA_BITWISE_DREG: u16 = 2;
pub(super) const NFTA_BITWISE_LEN: u16 = 3;
pub(super) const NFTA_BITWISE_MASK: u16 = 4;
pub(super) const NFTA_BITWISE_XOR: u16 = 5;
pub(super) const NFTA_CT_DREG: u16 = 1;
pub(super) const NFTA_CT_KEY: u16 = 2;
pub(super) const NFTA_FIB_DREG: u16 = 1;
pub(super) const NFTA_FIB_RESULT: u16 = 2;
pub(super) const NFTA_FIB_FLAGS: u16 = 3;
pub(super) const NFTA_NAT_TYPE: u16 = 1;
pub(super) const NFTA_NAT_FAMILY: u16 = 2;
pub(super) const NFTA_NAT_REG_ADDR_MIN: u16 = 3;
pub(super) const NFTA_NAT_REG_PROTO_MIN: u16 = 5;

pub(super) const NF_INET_PRE_ROUTING: u32 = 0;
pub(super) const NF_INET_FORWARD: u32 = 2;
pub(super) const NF_INET_LOCAL_OUT: u32 = 3;
pub(super) const NF_INET_POST_ROUTING: u32 = 4;

/// libnftnl's user-data TLV type for a rule comment.
pub(super) const UDATA_RULE_COMMENT: u8 = 0;
/// Longest tag we store (the TLV length is one byte, the kernel allows 256 bytes in all).
pub(super) const TAG_MAX: usize = 250;

// --- message building ---

pub(super) fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A netlink attribute writer.
pub(super) struct Attrs<'a>(pub(super) &'a mut Vec<u8>);

impl Attrs<'_> {
    pub(super) fn bytes(&mut self, ty: u16, data: &[u8]) {
        let len = 4 + data.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&ty.to_ne_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(align4(self.0.len()), 0);
    }
    pub(super) fn string(&mut self, ty: u16, s: &str) {
        let mut d = s.as_bytes().to_vec();
        d.push(0);
        self.bytes(ty, &d);
    }
    pub(super) fn u32(&mut self, ty: u16, v: u32) {
        self.bytes(ty, &v.to_be_bytes());
    }
    pub(super) fn u64(&mut self, ty: u16, v: u64) {
        self.bytes(ty, &v.to_be_bytes());
    }
    pub(super) fn nest(&mut self, ty: u16, f: impl FnOnce(&mut Attrs<'_>)) {
        let start = self.0.len();
        self.0.extend_from_slice(&[0, 0]);
        self.0.extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        f(&mut Attrs(self.0));
        let len = (self.0.len() - start) as u16;
        self.0[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }
}

pub(super) fn encode_expr(a: &mut Attrs<'_>, e: &Expr) {
    let name = match e {
        Expr::Meta { .. } => "meta",
        Expr::Cmp { .. } => "cmp",
        Expr::Payload { .. } => "payload",
        Expr::Bitwise { .. } => "bitwise",
        Expr::Ct { .. } => "ct",
        Expr::Fib { .. } => "fib",
        Expr::Immediate { .. } | Expr::Verdict { .. } => "immediate",
        Expr::Nat { .. } => "nat",
        Expr::Masquerade => "masq",
        Expr::Other(n) => n.as_str(),
    };
    a.nest(NFTA_LIST_ELEM, |a| {
        a.string(NFTA_EXPR_NAME, name);
        a.nest(NFTA_EXPR_DATA, |a| match e {
            Expr::Meta { key, dreg } => {
                a.u32(NFTA_META_DREG, *dreg);
                a.u32(NFTA_META_KEY, *key);
            }
            Expr::Cmp { sreg, op, data } => {
                a.u32(NFTA_CMP_SREG, *sreg);
                a.u32(NFTA_CMP_OP, *op);
                a.nest(NFTA_CMP_DATA, |a| a.bytes(NFTA_DATA_VALUE, data));
            }
            Expr::Payload {
                base,
                offset,
                len,
                dreg,
            } => {
                a.u32(NFTA_PAYLOAD_DREG, *dreg);
                a.u32(NFTA_PAYLOAD_BASE, *base);
                a.u32(NFTA_PAYLOAD_OFFSET, *offset);
                a.u32(NFTA_PAYLOAD_LEN, *len);
            }
            Expr::Bitwise {
                sreg,
                dreg,
                mask,
                xor,
            } => {
                a.u32(NFTA_BITWISE_SREG, *sreg);
                a.u32(NFTA_BITWISE_DREG, *dreg);
                a.u32(NFTA_BITWISE_LEN, mask.len() as u32);
                a.nest(NFTA_BITWISE_MASK, |a| a.bytes(NFTA_DATA_VALUE, mask));
                a.nest(NFTA_BITWISE_XOR, |a| a.bytes(NFTA_DATA_VALUE, xor));
            }
            Expr::Ct { key, dreg } => {
                a.u32(NFTA_CT_DREG, *dreg);
                a.u32(NFTA_CT_KEY, *key);
            }
            Expr::Fib {
                flags,
                result,
                dreg,
            } => {
                a.u32(NFTA_FIB_DREG, *dreg);
                a.u32(NFTA_FIB_RESULT, *result);
                a.u32(NFTA_FIB_FLAGS, *flags);
            }
            Expr::Immediate { dreg, data } => {
                a.u32(NFTA_IMMEDIATE_DREG, *dreg);
                a.nest(NFTA_IMMEDIATE_DATA, |a| a.bytes(NFTA_DATA_VALUE, data));
            }
            Expr::Verdict { code, chain } => {
                a.u32(NFTA_IMMEDIATE_DREG, REG_VERDICT);
                a.nest(NFTA_IMMEDIATE_DATA, |a| {
                    a.nest(NFTA_DATA_VERDICT, |a| {
                        a.u32(NFTA_VERDICT_CODE, *code as u32);
                        if let Some(c) = chain {
                            a.string(NFTA_VERDICT_CHAIN, c);
                        }
                    })
                });
            }
            Expr::Nat {
                dnat,
                family,
                reg_addr,
                reg_proto,
            } => {
                a.u32(NFTA_NAT_TYPE, u32::from(*dnat));
                a.u32(NFTA_NAT_FAMILY, *family);
                a.u32(NFTA_NAT_REG_ADDR_MIN, *reg_addr);
                a.u32(NFTA_NAT_REG_PROTO_MIN, *reg_proto);
            }
            Expr::Masquerade | Expr::Other(_) => {}
        });
    });
}

/// Iterates over the attributes in `data`: `(type without flags, payload)`.
pub(super) fn attrs(data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut off = 0usize;
    std::iter::from_fn(move || {
        if data.len().saturating_sub(off) < 4 {
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([data[off], data[off + 1]]));
        let ty = u16::from_ne_bytes([data[off + 2], data[off + 3]]) & NLA_TYPE_MASK;
        if len < 4 || off + len > data.len() {
            return None;
        }
        let payload = &data[off + 4..off + len];
        off += align4(len);
        Some((ty, payload))
    })
}

pub(super) fn attr(data: &[u8], ty: u16) -> Option<&[u8]> {
    attrs(data).find(|(t, _)| *t == ty).map(|(_, p)| p)
}

pub(super) fn be32(data: &[u8], ty: u16) -> Option<u32> {
    attr(data, ty).and_then(|p| Some(u32::from_be_bytes(p.get(..4)?.try_into().ok()?)))
}

pub(super) fn be64(p: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(p.get(..8)?.try_into().ok()?))
}

pub(super) fn cstr(p: &[u8]) -> String {
    let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
    String::from_utf8_lossy(&p[..end]).into_owned()
}

pub(super) fn data_value(data: &[u8], ty: u16) -> Vec<u8> {
    attr(data, ty)
        .and_then(|d| attr(d, NFTA_DATA_VALUE))
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

pub(super) fn decode_expr(elem: &[u8]) -> Expr {
    let name = attr(elem, NFTA_EXPR_NAME).map(cstr).unwrap_or_default();
    let d = attr(elem, NFTA_EXPR_DATA).unwrap_or(&[]);
    let u = |ty| be32(d, ty).unwrap_or(0);
    match name.as_str() {
        "meta" => Expr::Meta {
            key: u(NFTA_META_KEY),
            dreg: u(NFTA_META_DREG),
        },
        "cmp" => Expr::Cmp {
            sreg: u(NFTA_CMP_SREG),
            op: u(NFTA_CMP_OP),
            data: data_value(d, NFTA_CMP_DATA),
        },
        "payload" => Expr::Payload {
            base: u(NFTA_PAYLOAD_BASE),
            offset: u(NFTA_PAYLOAD_OFFSET),
            len: u(NFTA_PAYLOAD_LEN),
            dreg: u(NFTA_PAYLOAD_DREG),
        },
        "bitwise" => Expr::Bitwise {
            sreg: u(NFTA_BITWISE_SREG),
            dreg: u(NFTA_BITWISE_DREG),
            mask: data_value(d, NFTA_BITWISE_MASK),
            xor: data_value(d, NFTA_BITWISE_XOR),
        },
        "ct" => Expr::Ct {
            key: u(NFTA_CT_KEY),
            dreg: u(NFTA_CT_DREG),
        },
        "fib" => Expr::Fib {
            flags: u(NFTA_FIB_FLAGS),
            result: u(NFTA_FIB_RESULT),
            dreg: u(NFTA_FIB_DREG),
        },
        "immediate" => {
            let dreg = u(NFTA_IMMEDIATE_DREG);
            let data = attr(d, NFTA_IMMEDIATE_DATA).unwrap_or(&[]);
            if dreg == REG_VERDICT {
                let v = attr(data, NFTA_DATA_VERDICT).unwrap_or(&[]);
                Expr::Verdict {
                    code: be32(v, NFTA_VERDICT_CODE).unwrap_or(0) as i32,
                    chain: attr(v, NFTA_VERDICT_CHAIN).map(cstr),
                }
            } else {
                Expr::Immediate {
                    dreg,
                    data: attr(data, NFTA_DATA_VALUE)
                        .map(<[u8]>::to_vec)
                        .unwrap_or_default(),
                }
            }
        }
        "nat" => Expr::Nat {
            dnat: u(NFTA_NAT_TYPE) == 1,
            family: u(NFTA_NAT_FAMILY),
            reg_addr: u(NFTA_NAT_REG_ADDR_MIN),
            reg_proto: u(NFTA_NAT_REG_PROTO_MIN),
        },
        "masq" => Expr::Masquerade,
        _ => Expr::Other(name),
    }
}

/// libnftnl's user data: TLVs of (type u8, len u8, value); the comment is NUL-terminated.
pub(super) fn encode_tag(tag: &str) -> Vec<u8> {
    let mut v = vec![UDATA_RULE_COMMENT, (tag.len() + 1) as u8];
    v.extend_from_slice(tag.as_bytes());
    v.push(0);
    v
}

pub(super) fn decode_tag(udata: &[u8]) -> Option<String> {
    let mut off = 0;
    while off + 2 <= udata.len() {
        let (ty, len) = (udata[off], usize::from(udata[off + 1]));
        let value = udata.get(off + 2..off + 2 + len)?;
        if ty == UDATA_RULE_COMMENT {
            return Some(cstr(value));
        }
        off += 2 + len;
    }
    None
}

/// One message of a transaction, with what it does (for errors).
pub(super) struct BatchMsg {
    pub(super) ty: u16,
    pub(super) flags: u16,
    pub(super) family: u8,
    pub(super) body: Vec<u8>,
    pub(super) what: String,
}

pub(super) fn put_header(
    buf: &mut Vec<u8>,
    ty: u16,
    flags: u16,
    seq: u32,
    family: u8,
    res_id: u16,
) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.push(family);
    buf.push(0); // NFNETLINK_V0
    buf.extend_from_slice(&res_id.to_be_bytes());
    start
}

pub(super) fn finish(buf: &mut [u8], start: usize) {
    let len = (buf.len() - start) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

pub(super) fn msg_type(m: u16) -> u16 {
    (NFNL_SUBSYS_NFTABLES << 8) | m
}

pub(super) fn table_msg(table: &str, family: u8, ty: u16, what: String) -> BatchMsg {
    let mut body = Vec::new();
    Attrs(&mut body).string(NFTA_TABLE_NAME, table);
    BatchMsg {
        ty,
        flags: NLM_F_CREATE,
        family,
        body,
        what,
    }
}

pub(super) fn chain_msg(c: Chain) -> BatchMsg {
    let (kind, hook, prio) = chain_spec(c);
    let mut body = Vec::new();
    let mut a = Attrs(&mut body);
    a.string(NFTA_CHAIN_TABLE, TABLE);
    a.string(NFTA_CHAIN_NAME, c.name());
    a.nest(NFTA_CHAIN_HOOK, |a| {
        a.u32(NFTA_HOOK_HOOKNUM, hook);
        a.u32(NFTA_HOOK_PRIORITY, prio as u32);
    });
    a.u32(NFTA_CHAIN_POLICY, NF_ACCEPT as u32);
    a.string(NFTA_CHAIN_TYPE, kind);
    BatchMsg {
        ty: NFT_MSG_NEWCHAIN,
        flags: NLM_F_CREATE,
        family: NFPROTO_INET,
        body,
        what: format!("create chain inet {TABLE} {}", c.name()),
    }
}

pub(super) fn rule_msg(
    family: u8,
    table: &str,
    chain: &str,
    position: Position,
    exprs: &[Expr],
    tag: &str,
) -> BatchMsg {
    let mut body = Vec::new();
    let mut a = Attrs(&mut body);
    a.string(NFTA_RULE_TABLE, table);
    a.string(NFTA_RULE_CHAIN, chain);
    a.nest(NFTA_RULE_EXPRESSIONS, |a| {
        for e in exprs {
            encode_expr(a, e);
        }
    });
    a.bytes(NFTA_RULE_USERDATA, &encode_tag(tag));
    let flags = match position {
        Position::Head => NLM_F_CREATE,
        Position::Tail => NLM_F_CREATE | NLM_F_APPEND,
    };
    BatchMsg {
        ty: NFT_MSG_NEWRULE,
        flags,
        family,
        body,
        what: format!("add rule {table} {chain} [{tag}]"),
    }
}

pub(super) fn delrule_msg(r: &ListedRule) -> BatchMsg {
    let mut body = Vec::new();
    let mut a = Attrs(&mut body);
    a.string(NFTA_RULE_TABLE, &r.table);
    a.string(NFTA_RULE_CHAIN, &r.chain);
    a.u64(NFTA_RULE_HANDLE, r.handle);
    BatchMsg {
        ty: NFT_MSG_DELRULE,
        flags: 0,
        family: r.family,
        body,
        what: format!(
            "delete rule {} {} handle {} [{}]",
            r.table,
            r.chain,
            r.handle,
            r.tag.as_deref().unwrap_or("")
        ),
    }
}

pub(super) fn check_tag(tag: &str, op: &str) -> Result<(), NftError> {
    if tag.len() > TAG_MAX || tag.contains('\0') {
        return Err(invalid(op, format!("tag too long or with NUL: {tag:?}")));
    }
    Ok(())
}

pub(super) fn check_ifname(name: &str, op: &str) -> Result<(), NftError> {
    crate::engine::network::link::check_ifname(name).map_err(|e| invalid(op, e))
}

/// `(type, hook, priority)` of a base chain.
fn chain_spec(c: Chain) -> (&'static str, u32, i32) {
    match c {
        Chain::RawPrerouting => ("filter", NF_INET_PRE_ROUTING, -300),
        Chain::Forward => ("filter", NF_INET_FORWARD, 0),
        Chain::Prerouting => ("nat", NF_INET_PRE_ROUTING, -100),
        Chain::Output => ("nat", NF_INET_LOCAL_OUT, -100),
        Chain::Postrouting => ("nat", NF_INET_POST_ROUTING, 100),
    }
}

/// The messages that create our table and chains when missing (idempotent: `NLM_F_CREATE`
/// without `NLM_F_EXCL` leaves existing ones as they are).
pub(super) fn ensure_msgs() -> Vec<BatchMsg> {
    let mut v = vec![table_msg(
        TABLE,
        NFPROTO_INET,
        NFT_MSG_NEWTABLE,
        format!("create table inet {TABLE}"),
    )];
    v.extend(Chain::ALL.into_iter().map(chain_msg));
    v
}

/// The messages adding `rules` to our table (`op` names the change, for errors).
pub(super) fn rule_msgs(rules: &[Rule], op: &str) -> Result<Vec<BatchMsg>, NftError> {
    rules
        .iter()
        .map(|r| {
            check_tag(&r.tag, op)?;
            Ok(rule_msg(
                NFPROTO_INET,
                TABLE,
                r.chain.name(),
                r.position,
                &r.exprs,
                &r.tag,
            ))
        })
        .collect()
}
