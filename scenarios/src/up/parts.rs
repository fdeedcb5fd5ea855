//! `cdn up --only`: which parts of a world one `cdn up` runs. An edge
//! name may be a plain edge, a PoP (its nodes and its balancer), one
//! node of a PoP (`edge:seoul-2`), or a PoP's balancer alone
//! (`pop:seoul`); the parts run elsewhere are expected at the world
//! file's addresses.

use world::World;
use world::pop::Server;

/// Which parts of a world one `cdn up` runs (`--only`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts {
    /// The origin (unless `--origin` names your own).
    pub origin: bool,
    /// GeoDNS.
    pub geodns: bool,
    /// Edges: `None` every one, else these names (edges, PoPs, PoP nodes).
    pub edges: Option<Vec<String>>,
    /// PoPs whose balancer alone runs here (`pop:NAME`).
    pub balancers: Vec<String>,
}

impl Default for Parts {
    fn default() -> Self {
        Parts::all()
    }
}

const EXPECTED: &str = "origin, geodns, edges, edge:NAME or pop:NAME (comma-separated)";

impl Parts {
    /// The whole world.
    pub fn all() -> Parts {
        Parts { origin: true, geodns: true, edges: None, balancers: Vec::new() }
    }

    /// `origin,geodns,edges,edge:NAME,pop:NAME,…`.
    pub fn parse(s: &str) -> Result<Parts, String> {
        let mut p = Parts { origin: false, geodns: false, edges: Some(Vec::new()), balancers: Vec::new() };
        let mut any = false;
        for part in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
            any = true;
            match part {
                "origin" => p.origin = true,
                "geodns" => p.geodns = true,
                "edges" => p.edges = None,
                _ => match (part.strip_prefix("edge:"), part.strip_prefix("pop:")) {
                    (Some(name), _) if !name.is_empty() => {
                        if let Some(v) = p.edges.as_mut()
                            && !v.iter().any(|n| n == name)
                        {
                            v.push(name.to_string());
                        }
                    }
                    (_, Some(name)) if !name.is_empty() => {
                        if !p.balancers.iter().any(|n| n == name) {
                            p.balancers.push(name.to_string());
                        }
                    }
                    _ => return Err(format!("`{part}`: expected {EXPECTED}")),
                },
            }
        }
        if !any {
            return Err(format!("say which parts: {EXPECTED}"));
        }
        Ok(p)
    }

    /// Refuses names the world does not have, listing those it has.
    pub fn check(&self, w: &World) -> anyhow::Result<()> {
        for name in self.edges.iter().flatten() {
            anyhow::ensure!(
                w.server(name).is_some(),
                "--only edge:{name}: no such edge in world `{}` (edges, PoPs and PoP nodes: {})",
                w.name,
                w.server_names().join(", ")
            );
        }
        for name in &self.balancers {
            let pops: Vec<&str> = w.edges.iter().filter(|e| e.pop.is_some()).map(|e| e.name.as_str()).collect();
            anyhow::ensure!(
                matches!(w.server(name), Some(Server::Pop(_))),
                "--only pop:{name}: no PoP `{name}` in world `{}` (PoPs: {})",
                w.name,
                if pops.is_empty() { "none".to_string() } else { pops.join(", ") }
            );
        }
        Ok(())
    }

    /// Whether edge (or PoP) `name` runs here, whole.
    pub fn edge(&self, name: &str) -> bool {
        self.edges.as_ref().is_none_or(|v| v.iter().any(|n| n == name))
    }

    /// Whether node `node` of PoP `pop` runs here (the PoP's, or its own).
    pub fn node(&self, pop: &str, node: &str) -> bool {
        self.edge(pop) || self.edge(node)
    }

    /// Whether PoP `pop`'s balancer runs here (the PoP's, or its own).
    pub fn balancer(&self, pop: &str) -> bool {
        self.edge(pop) || self.balancers.iter().any(|n| n == pop)
    }

    /// Whether this is the whole world.
    pub fn is_all(&self) -> bool {
        self.origin && self.geodns && self.edges.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::Parts;

    #[test]
    fn only_parses_parts_and_refuses_the_rest() {
        let p = Parts::parse("origin,geodns").unwrap();
        assert_eq!(p, Parts { origin: true, geodns: true, edges: Some(vec![]), balancers: vec![] });
        assert!(!p.edge("tokyo") && !p.is_all());
        let p = Parts::parse("edge:tokyo, edge:seoul,edge:tokyo").unwrap();
        assert_eq!(p.edges, Some(vec!["tokyo".to_string(), "seoul".to_string()]));
        assert!(p.edge("tokyo") && !p.edge("newyork") && !p.origin && !p.geodns);
        assert!(Parts::parse("origin,edges,geodns").unwrap().is_all());
        for bad in ["", "edge:", "pop:", "shield", "origin,dns"] {
            assert!(Parts::parse(bad).is_err(), "{bad:?}");
        }
        let w = world::World::demo().unwrap();
        assert!(Parts::parse("edge:osaka").unwrap().check(&w).unwrap_err().to_string().contains("no such edge"));
    }

    /// A PoP runs whole, or one node, or its balancer alone; unknown
    /// names are refused with the names there are.
    #[test]
    fn a_pop_its_nodes_and_its_balancer_can_run_apart() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/worlds/cluster.toml");
        let w = world::World::load(std::path::Path::new(path)).unwrap();
        let whole = Parts::parse("edge:seoul").unwrap();
        assert!(whole.check(&w).is_ok() && whole.node("seoul", "seoul-2") && whole.balancer("seoul"));
        let one = Parts::parse("edge:seoul-2,pop:seoul").unwrap();
        assert!(one.check(&w).is_ok());
        assert!(one.node("seoul", "seoul-2") && !one.node("seoul", "seoul-1") && one.balancer("seoul"));
        assert!(!one.edge("seoul"), "the PoP is not whole here");
        let node_only = Parts::parse("edge:seoul-3").unwrap();
        assert!(!node_only.balancer("seoul"));
        let e = Parts::parse("edge:seoul-7").unwrap().check(&w).unwrap_err().to_string();
        assert!(e.contains("seoul, seoul-1, seoul-2, seoul-3, seoul-4, tokyo"), "{e}");
        let e = Parts::parse("pop:tokyo").unwrap().check(&w).unwrap_err().to_string();
        assert!(e.contains("no PoP `tokyo`") && e.contains("(PoPs: seoul)"), "{e}");
    }
}
