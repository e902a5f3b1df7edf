//! The parts of a SUMO network (`.net.xml`) that signal control needs: edges and lanes,
//! junctions, the connections a traffic light controls, and its programs.

use std::path::Path;

use super::error::SumoError;

#[derive(Debug, Clone, PartialEq)]
pub struct Net {
    /// netconvert's shift from the source frame to the network frame.
    pub offset: (f64, f64),
    pub edges: Vec<Edge>,
    pub junctions: Vec<Junction>,
    pub connections: Vec<Connection>,
    pub tl_logics: Vec<TlLogic>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub id: String,
    pub from: String,
    pub to: String,
    pub lanes: Vec<NetLane>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetLane {
    pub index: u8,
    pub speed_ms: f64,
    pub length_m: f64,
    pub width_m: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Junction {
    pub id: String,
    pub kind: String,
    pub x: f64,
    pub y: f64,
    pub shape: Vec<(f64, f64)>,
}

/// Direction of a connection as netconvert classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Straight,
    Left,
    Right,
    PartLeft,
    PartRight,
    Turnaround,
    Invalid,
}

impl Direction {
    fn parse(s: &str) -> Direction {
        match s {
            "s" => Direction::Straight,
            "l" => Direction::Left,
            "r" => Direction::Right,
            "L" => Direction::PartLeft,
            "R" => Direction::PartRight,
            "t" => Direction::Turnaround,
            _ => Direction::Invalid,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub from: String,
    pub to: String,
    pub from_lane: u8,
    pub to_lane: u8,
    pub dir: Direction,
    /// The controlling traffic light and this connection's index in its state string.
    pub tl: Option<(String, usize)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlLogic {
    pub id: String,
    pub kind: String,
    pub program_id: String,
    pub offset_s: f64,
    pub phases: Vec<TlPhase>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlPhase {
    pub duration_s: f64,
    pub state: String,
    pub min_dur_s: Option<f64>,
    pub max_dur_s: Option<f64>,
}

impl TlPhase {
    /// A phase that shows a green and no yellow: a stage of the program.
    pub fn is_green_stage(&self) -> bool {
        self.state.chars().any(|c| c == 'G' || c == 'g') && !self.state.contains(['y', 'Y', 'u'])
    }
}

impl Net {
    pub fn load(path: &Path) -> Result<Net, SumoError> {
        let text = super::error::read_input(path, "cannot read SUMO network")?;
        Net::parse(&text).map_err(|message| SumoError::Xml { path: path.to_owned(), what: "network", message })
    }

    pub fn parse(text: &str) -> Result<Net, String> {
        let doc = roxmltree::Document::parse(text).map_err(|e| e.to_string())?;
        let root = doc.root_element();
        if root.tag_name().name() != "net" {
            return Err(format!("the root element is <{}>, not <net>", root.tag_name().name()));
        }
        let mut net = Net {
            offset: (0.0, 0.0),
            edges: Vec::new(),
            junctions: Vec::new(),
            connections: Vec::new(),
            tl_logics: Vec::new(),
        };
        for n in root.children().filter(roxmltree::Node::is_element) {
            match n.tag_name().name() {
                "location" => {
                    if let Some(o) = n.attribute("netOffset") {
                        let p = parse_point(o).ok_or_else(|| at(&doc, n, format!("bad netOffset `{o}`")))?;
                        net.offset = p;
                    }
                }
                "edge" if n.attribute("function").is_none_or(|f| f == "normal") => {
                    let id = req(&doc, n, "id")?;
                    let mut lanes = Vec::new();
                    for l in n.children().filter(|c| c.has_tag_name("lane")) {
                        lanes.push(NetLane {
                            index: num(&doc, l, "index")?,
                            speed_ms: num(&doc, l, "speed")?,
                            length_m: num(&doc, l, "length")?,
                            width_m: opt_num(&doc, l, "width")?,
                        });
                    }
                    lanes.sort_by_key(|l| l.index);
                    net.edges.push(Edge { id, from: req(&doc, n, "from")?, to: req(&doc, n, "to")?, lanes });
                }
                "junction" if n.attribute("type") != Some("internal") => {
                    let shape = match n.attribute("shape") {
                        Some(s) => parse_shape(s).ok_or_else(|| at(&doc, n, format!("bad shape `{s}`")))?,
                        None => Vec::new(),
                    };
                    net.junctions.push(Junction {
                        id: req(&doc, n, "id")?,
                        kind: n.attribute("type").unwrap_or("unknown").to_owned(),
                        x: num(&doc, n, "x")?,
                        y: num(&doc, n, "y")?,
                        shape,
                    });
                }
                "connection" => {
                    let from = req(&doc, n, "from")?;
                    if from.starts_with(':') {
                        continue;
                    }
                    let tl = match n.attribute("tl") {
                        Some(t) => Some((t.to_owned(), num(&doc, n, "linkIndex")?)),
                        None => None,
                    };
                    net.connections.push(Connection {
                        from,
                        to: req(&doc, n, "to")?,
                        from_lane: num(&doc, n, "fromLane")?,
                        to_lane: num(&doc, n, "toLane")?,
                        dir: Direction::parse(n.attribute("dir").unwrap_or("")),
                        tl,
                    });
                }
                "tlLogic" => {
                    let mut phases = Vec::new();
                    for p in n.children().filter(|c| c.has_tag_name("phase")) {
                        phases.push(TlPhase {
                            duration_s: num(&doc, p, "duration")?,
                            state: req(&doc, p, "state")?,
                            min_dur_s: opt_num(&doc, p, "minDur")?,
                            max_dur_s: opt_num(&doc, p, "maxDur")?,
                        });
                    }
                    net.tl_logics.push(TlLogic {
                        id: req(&doc, n, "id")?,
                        kind: n.attribute("type").unwrap_or("static").to_owned(),
                        program_id: n.attribute("programID").unwrap_or("0").to_owned(),
                        offset_s: opt_num(&doc, n, "offset")?.unwrap_or(0.0),
                        phases,
                    });
                }
                _ => {}
            }
        }
        Ok(net)
    }

    pub fn edge(&self, id: &str) -> Option<&Edge> {
        self.edges.iter().find(|e| e.id == id)
    }

    pub fn junction(&self, id: &str) -> Option<&Junction> {
        self.junctions.iter().find(|j| j.id == id)
    }

    /// The program SUMO runs at start for a traffic light (the first one listed).
    pub fn default_program(&self, tls: &str) -> Option<&TlLogic> {
        self.tl_logics.iter().find(|t| t.id == tls)
    }

    /// Connections controlled by a traffic light, ordered by link index.
    pub fn controlled(&self, tls: &str) -> Vec<(usize, &Connection)> {
        let mut v: Vec<(usize, &Connection)> = self
            .connections
            .iter()
            .filter_map(|c| c.tl.as_ref().filter(|(t, _)| t == tls).map(|(_, i)| (*i, c)))
            .collect();
        v.sort_by_key(|(i, _)| *i);
        v
    }
}

fn at(doc: &roxmltree::Document<'_>, n: roxmltree::Node<'_, '_>, msg: String) -> String {
    let pos = doc.text_pos_at(n.range().start);
    format!("line {}: <{}>: {msg}", pos.row, n.tag_name().name())
}

fn req(doc: &roxmltree::Document<'_>, n: roxmltree::Node<'_, '_>, name: &str) -> Result<String, String> {
    n.attribute(name).map(str::to_owned).ok_or_else(|| at(doc, n, format!("missing attribute `{name}`")))
}

fn num<T: std::str::FromStr>(
    doc: &roxmltree::Document<'_>,
    n: roxmltree::Node<'_, '_>,
    name: &str,
) -> Result<T, String> {
    let s = req(doc, n, name)?;
    s.trim().parse().map_err(|_| at(doc, n, format!("attribute `{name}` = `{s}` is not a number")))
}

fn opt_num<T: std::str::FromStr>(
    doc: &roxmltree::Document<'_>,
    n: roxmltree::Node<'_, '_>,
    name: &str,
) -> Result<Option<T>, String> {
    match n.attribute(name) {
        None => Ok(None),
        Some(_) => num(doc, n, name).map(Some),
    }
}

fn parse_point(s: &str) -> Option<(f64, f64)> {
    let (x, y) = s.split_once(',')?;
    Some((x.trim().parse().ok()?, y.trim().parse().ok()?))
}

fn parse_shape(s: &str) -> Option<Vec<(f64, f64)>> {
    s.split_whitespace().map(|p| parse_point(p.split(',').take(2).collect::<Vec<_>>().join(",").as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const TINY: &str = r#"<net version="1.9">
    <location netOffset="100.00,50.00" convBoundary="0,0,200,100"/>
    <edge id=":C_0" function="internal"><lane id=":C_0_0" index="0" speed="13.9" length="10"/></edge>
    <edge id="WC" from="W" to="C"><lane id="WC_0" index="0" speed="13.89" length="92.8"/></edge>
    <edge id="CE" from="C" to="E"><lane id="CE_0" index="0" speed="13.89" length="92.8"/></edge>
    <edge id="SC" from="S" to="C"><lane id="SC_0" index="0" speed="11.11" length="42.8"/></edge>
    <tlLogic id="C" type="static" programID="0" offset="0">
        <phase duration="30" state="Gr"/>
        <phase duration="3" state="yr"/>
        <phase duration="20" state="rG"/>
        <phase duration="3" state="ry"/>
    </tlLogic>
    <junction id="C" type="traffic_light" x="100" y="50" shape="93,57 107,57 107,43 93,43"/>
    <junction id=":C_0_0" type="internal" x="100" y="50"/>
    <connection from="WC" to="CE" fromLane="0" toLane="0" via=":C_0_0" tl="C" linkIndex="0" dir="s" state="O"/>
    <connection from="SC" to="CE" fromLane="0" toLane="0" tl="C" linkIndex="1" dir="r" state="o"/>
    <connection from=":C_0" to="CE" fromLane="0" toLane="0" dir="s" state="M"/>
</net>"#;

    #[test]
    fn reads_edges_junctions_connections_and_programs() {
        let net = Net::parse(TINY).unwrap();
        assert_eq!(net.offset, (100.0, 50.0));
        assert_eq!(net.edges.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["WC", "CE", "SC"]);
        assert_eq!(net.junctions.len(), 1);
        assert_eq!(net.junctions[0].shape.len(), 4);
        let c = net.controlled("C");
        assert_eq!(c.len(), 2);
        assert_eq!((c[1].0, c[1].1.from.as_str(), c[1].1.dir), (1, "SC", Direction::Right));
        let tl = net.default_program("C").unwrap();
        assert_eq!(tl.phases.iter().filter(|p| p.is_green_stage()).count(), 2);
    }

    #[test]
    fn bad_files_name_the_line_and_attribute() {
        let err = Net::parse(&TINY.replace(r#"length="42.8""#, r#"length="long""#)).unwrap_err();
        assert!(err.contains("line 6") && err.contains("`length`"), "{err}");
        assert!(Net::parse("<routes/>").unwrap_err().contains("<routes>"));
        assert!(Net::parse("<net><edge").is_err());
    }
}
