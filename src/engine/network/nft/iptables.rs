//! Interop with iptables-nft: on hosts whose `FORWARD` policy is DROP (Docker), the accepts our
//! bridges need go into `ip filter` too (see the module docs of `nft`).

use super::client::*;
use super::error::*;
use super::expr::*;
use super::rules::*;
use super::wire::*;

/// Where iptables' accept rules for our bridges go, found by [`Nft::iptables_forward_chain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IptablesForward {
    /// `DOCKER-USER` when it exists, else `FORWARD`.
    pub chain: String,
    /// Whether `FORWARD`'s policy is DROP (only then do our bridges need the accepts).
    pub policy_drop: bool,
}

impl Nft {
    /// Finds iptables-nft's forward filtering (`table ip filter`): the chain our accepts would go
    /// to and whether `FORWARD` drops by default. `None` when there is no such table (no
    /// iptables-nft user on this host, or iptables-legacy, which nftables cannot see).
    pub fn iptables_forward_chain(&mut self) -> Result<Option<IptablesForward>, NftError> {
        if !self.has_table(NFPROTO_IPV4, "filter")? {
            return Ok(None);
        }
        let mut body = Vec::new();
        Attrs(&mut body).string(NFTA_CHAIN_TABLE, "filter");
        let chains = self.dump(
            NFT_MSG_GETCHAIN,
            NFPROTO_IPV4,
            &body,
            "list chains of ip filter",
        )?;
        let mut forward = None;
        let mut docker_user = false;
        for c in &chains {
            if attr(c, NFTA_CHAIN_TABLE).map(cstr).as_deref() != Some("filter") {
                continue;
            }
            match attr(c, NFTA_CHAIN_NAME).map(cstr).as_deref() {
                Some("FORWARD") => {
                    forward = Some(be32(c, NFTA_CHAIN_POLICY) == Some(NF_DROP as u32));
                }
                Some("DOCKER-USER") => docker_user = true,
                _ => {}
            }
        }
        Ok(forward.map(|policy_drop| IptablesForward {
            chain: if docker_user {
                "DOCKER-USER"
            } else {
                "FORWARD"
            }
            .to_string(),
            policy_drop,
        }))
    }

    /// On hosts whose iptables-nft `FORWARD` chain drops by default (Docker), inserts at the head
    /// of `DOCKER-USER` (or `FORWARD`) the accepts our network's bridge needs, in the form
    /// iptables-nft writes itself (`-i br -j ACCEPT`, `-o br -m conntrack --ctstate
    /// RELATED,ESTABLISHED -j ACCEPT`, with a `counter`), tagged like the network's other rules
    /// (replacing earlier ones). Returns the chain used, or `None` when nothing was needed.
    /// [`Nft::remove_network`] removes them.
    pub fn allow_in_iptables_forward(
        &mut self,
        net: &NetworkRules,
    ) -> Result<Option<String>, NftError> {
        let op = format!("accept network {} in iptables FORWARD", net.name);
        check_ifname(&net.bridge, &op)?;
        let Some(fw) = self.iptables_forward_chain()? else {
            return Ok(None);
        };
        if !fw.policy_drop {
            return Ok(None);
        }
        let tag = net_tag(&net.bridge);
        let br = net.bridge.as_str();
        let counter = Expr::Other("counter".into());
        let mut rules = vec![[
            match_ifname(META_IIFNAME, CMP_EQ, br).to_vec(),
            vec![counter.clone(), verdict(NF_ACCEPT)],
        ]
        .concat()];
        if !net.internal {
            rules.push(
                [
                    match_ifname(META_OIFNAME, CMP_EQ, br).to_vec(),
                    match_ct_bits(CT_STATE, CT_STATE_ESTABLISHED | CT_STATE_RELATED, CMP_NEQ)
                        .to_vec(),
                    vec![counter, verdict(NF_ACCEPT)],
                ]
                .concat(),
            );
        }
        let msgs: Vec<BatchMsg> = rules
            .iter()
            .map(|e| rule_msg(NFPROTO_IPV4, "filter", &fw.chain, Position::Head, e, &tag))
            .collect();
        let ours = |r: &ListedRule| r.table == "filter" && r.tag.as_deref() == Some(tag.as_str());
        // Only the iptables rules of this network are replaced, not its rules in our table.
        let mut tries = 0;
        loop {
            tries += 1;
            let dels: Vec<BatchMsg> = self
                .rules_of(NFPROTO_IPV4, "filter")?
                .iter()
                .filter(|r| ours(r))
                .map(delrule_msg)
                .collect();
            let n = dels.len();
            let batch: Vec<BatchMsg> = dels
                .into_iter()
                .chain(msgs.iter().map(|m| BatchMsg {
                    ty: m.ty,
                    flags: m.flags,
                    family: m.family,
                    body: m.body.clone(),
                    what: m.what.clone(),
                }))
                .collect();
            match self.batch(&batch) {
                Err(e) if e.errno() == Some(libc::ENOENT) && n > 0 && tries < BATCH_RETRIES => {}
                Err(e) => return Err(e),
                Ok(()) => return Ok(Some(fw.chain)),
            }
        }
    }
}
