//! The SVG's layout: the sizes of boxes, rows and blocks (monospaced text, so widths are known
//! without fonts), and which flows and subjects go in which column.

use crate::{Graph, Node};

pub(super) const MARGIN: f64 = 20.0;
pub(super) const TITLE_HEIGHT: f64 = 34.0;
pub(super) const FONT_SIZE: f64 = 12.0;
/// Advance of one character of the monospaced font at [`FONT_SIZE`].
pub(super) const CHAR_WIDTH: f64 = 7.3;
pub(super) const LINE_HEIGHT: f64 = 16.0;
pub(super) const LABEL_SIZE: f64 = 11.0;
pub(super) const LABEL_CHAR_WIDTH: f64 = 6.7;
pub(super) const PAD_X: f64 = 10.0;
pub(super) const PAD_Y: f64 = 7.0;
pub(super) const MIN_BOX_WIDTH: f64 = 96.0;
/// Between boxes of one row.
pub(super) const BOX_GAP: f64 = 20.0;
/// Between rows of a flow.
pub(super) const ROW_GAP: f64 = 38.0;
/// Between a flow's box and what is stacked under it.
pub(super) const BLOCK_GAP: f64 = 44.0;
pub(super) const FRAME_PAD: f64 = 14.0;
pub(super) const FRAME_CAPTION: f64 = 18.0;
pub(super) const GROUP_PAD: f64 = 10.0;
pub(super) const GROUP_CAPTION: f64 = 14.0;
pub(super) const COLUMN_GAP: f64 = 40.0;
/// Space between a column's content and its first lane, and between lanes.
pub(super) const LANE_GAP: f64 = 14.0;

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Rect {
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) w: f64,
    pub(super) h: f64,
}

impl Rect {
    pub(super) fn right(self) -> f64 {
        self.x + self.w
    }
    pub(super) fn bottom(self) -> f64 {
        self.y + self.h
    }
    pub(super) fn cx(self) -> f64 {
        self.x + self.w / 2.0
    }
    pub(super) fn cy(self) -> f64 {
        self.y + self.h / 2.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Trigger,
    Step,
    Done,
    Error,
    Subject,
    Exporter,
}

impl Style {
    pub(super) fn colors(self) -> (&'static str, &'static str) {
        match self {
            Style::Trigger => ("#dbeafe", "#1d4ed8"),
            Style::Step => ("#ffffff", "#334155"),
            Style::Done => ("#dcfce7", "#15803d"),
            Style::Error => ("#fee2e2", "#b91c1c"),
            Style::Subject => ("#fef3c7", "#b45309"),
            Style::Exporter => ("#ede9fe", "#6d28d9"),
        }
    }
}

/// A node to draw: its text, style and size; placed later.
pub(super) struct BoxItem<'a> {
    pub(super) node: &'a Node,
    pub(super) style: Style,
    pub(super) w: f64,
    pub(super) h: f64,
}

impl<'a> BoxItem<'a> {
    pub(super) fn new(node: &'a Node, style: Style) -> Self {
        let chars = node
            .lines
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0);
        Self {
            node,
            style,
            w: (chars as f64 * CHAR_WIDTH + 2.0 * PAD_X).max(MIN_BOX_WIDTH),
            h: node.lines.len() as f64 * LINE_HEIGHT + 2.0 * PAD_Y,
        }
    }
}

/// One row of boxes, possibly inside a group's dashed box.
pub(super) struct Row<'a> {
    pub(super) boxes: Vec<BoxItem<'a>>,
    pub(super) group: bool,
}

impl Row<'_> {
    pub(super) fn inner_width(&self) -> f64 {
        self.boxes.iter().map(|b| b.w).sum::<f64>()
            + BOX_GAP * (self.boxes.len().saturating_sub(1)) as f64
    }
    pub(super) fn width(&self) -> f64 {
        self.inner_width() + if self.group { 2.0 * GROUP_PAD } else { 0.0 }
    }
    pub(super) fn height(&self) -> f64 {
        let boxes = self.boxes.iter().map(|b| b.h).fold(0.0, f64::max);
        if self.group {
            boxes + 2.0 * GROUP_PAD + GROUP_CAPTION
        } else {
            boxes
        }
    }
}

/// What a column stacks: a flow's box, or a row of subjects.
pub(super) enum Block<'a> {
    Frame {
        caption: &'a str,
        rows: Vec<Row<'a>>,
    },
    Subjects(Row<'a>),
}

impl Block<'_> {
    pub(super) fn width(&self) -> f64 {
        match self {
            Block::Frame { rows, caption } => {
                let rows = rows.iter().map(Row::width).fold(0.0, f64::max);
                let caption = caption.chars().count() as f64 * LABEL_CHAR_WIDTH;
                rows.max(caption) + 2.0 * FRAME_PAD
            }
            Block::Subjects(row) => row.width(),
        }
    }
    pub(super) fn height(&self) -> f64 {
        match self {
            Block::Frame { rows, .. } => {
                FRAME_CAPTION
                    + FRAME_PAD
                    + rows.iter().map(Row::height).sum::<f64>()
                    + ROW_GAP * (rows.len().saturating_sub(1)) as f64
                    + FRAME_PAD
            }
            Block::Subjects(row) => row.height(),
        }
    }
}

/// Where a node ended up.
#[derive(Debug, Clone, Copy)]
pub(super) struct Placed {
    pub(super) rect: Rect,
    /// The bottom of its row (a lane leaves a box below every box of its row).
    pub(super) row_bottom: f64,
}

/// Which flows and subjects go in which column, in order.
pub(super) fn columns(graph: &Graph) -> Vec<Vec<Item>> {
    let mut fed = vec![false; graph.flows.len()];
    for (i, flow) in graph.flows.iter().enumerate() {
        for output in &flow.outputs {
            for &listener in &graph.subjects[output.subject].listeners {
                if listener != i {
                    fed[listener] = true;
                }
            }
        }
    }
    let mut placed_flows = vec![false; graph.flows.len()];
    let mut placed_subjects = vec![false; graph.subjects.len()];
    let mut columns = Vec::new();
    // Heads first (flows no other flow feeds), then whatever a cycle left.
    for heads_only in [true, false] {
        for head in 0..graph.flows.len() {
            if placed_flows[head] || (heads_only && fed[head]) {
                continue;
            }
            let mut column = Vec::new();
            let mut next = Some(head);
            while let Some(flow) = next.take() {
                placed_flows[flow] = true;
                column.push(Item::Flow(flow));
                let mut subjects = Vec::new();
                for output in &graph.flows[flow].outputs {
                    if !placed_subjects[output.subject] {
                        placed_subjects[output.subject] = true;
                        subjects.push(output.subject);
                    }
                }
                next = subjects
                    .iter()
                    .flat_map(|&s| &graph.subjects[s].listeners)
                    .copied()
                    .find(|&l| !placed_flows[l]);
                if !subjects.is_empty() {
                    column.push(Item::Subjects(subjects));
                }
            }
            columns.push(column);
        }
    }
    columns
}

pub(super) enum Item {
    Flow(usize),
    Subjects(Vec<usize>),
}

pub(super) fn frame<'a>(graph: &'a Graph, flow: usize) -> Block<'a> {
    let flow = &graph.flows[flow];
    let mut rows = vec![Row {
        boxes: vec![BoxItem::new(&flow.trigger, Style::Trigger)],
        group: false,
    }];
    for stage in &flow.stages {
        rows.push(Row {
            boxes: stage
                .steps
                .iter()
                .map(|s| BoxItem::new(&s.node, Style::Step))
                .collect(),
            group: stage.group.is_some(),
        });
    }
    let mut last = Vec::new();
    if let Some(end) = &flow.end {
        last.push(BoxItem::new(end, Style::Done));
    }
    if let Some(error) = &flow.error {
        last.push(BoxItem::new(error, Style::Error));
    }
    if !last.is_empty() {
        rows.push(Row {
            boxes: last,
            group: false,
        });
    }
    Block::Frame {
        caption: flow.kind.caption(),
        rows,
    }
}
