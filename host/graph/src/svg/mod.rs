//! The graph as SVG, laid out here in layers (no Graphviz).
//!
//! One column per flow, top to bottom: the flow's box (caption, trigger, one row per step with
//! a group's members side by side in a dashed box, then the end and error nodes), and below it
//! the subjects it publishes to. A stream handler that listens to one of those subjects is
//! stacked under them in the same column, so a pipeline reads downwards. Step-order edges run
//! from the bottom of a box to the top of the next; `onErr` returns and dead letters run down
//! a lane at the right of the column. Components others import from stand in a column of
//! their own, reached by dotted edges from the boxes of their importers. Text is monospaced so
//! that widths are known without fonts; every label is XML-escaped.

mod layout;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use layout::{
    BLOCK_GAP, BOX_GAP, Block, BoxItem, COLUMN_GAP, FONT_SIZE, FRAME_CAPTION, FRAME_PAD,
    GROUP_CAPTION, GROUP_PAD, Item, LABEL_CHAR_WIDTH, LABEL_SIZE, LANE_GAP, LINE_HEIGHT, MARGIN,
    PAD_Y, Placed, ROW_GAP, Rect, Row, Style, TITLE_HEIGHT, columns, frame,
};

use crate::text;
use crate::{EdgeKind, Graph};

pub fn render(graph: &Graph) -> String {
    // The blocks of each column.
    let mut columns: Vec<Vec<Block<'_>>> = columns(graph)
        .into_iter()
        .map(|items| {
            items
                .into_iter()
                .map(|item| match item {
                    Item::Flow(flow) => frame(graph, flow),
                    Item::Subjects(subjects) => Block::Subjects(Row {
                        boxes: subjects
                            .iter()
                            .map(|&s| BoxItem::new(&graph.subjects[s].node, Style::Subject))
                            .collect(),
                        group: false,
                    }),
                })
                .collect()
        })
        .collect();
    // The components drawn apart from the flows, each kind in a column of its own.
    for (caption, nodes, style) in [
        (
            "components imported by others",
            &graph.exporters,
            Style::Exporter,
        ),
        ("components used by no flow", &graph.unused, Style::Step),
    ] {
        if !nodes.is_empty() {
            columns.push(vec![Block::Frame {
                caption,
                rows: nodes
                    .iter()
                    .map(|node| Row {
                        boxes: vec![BoxItem::new(node, style)],
                        group: false,
                    })
                    .collect(),
            }]);
        }
    }

    // The lanes each column needs at its right, for the edges that skip rows.
    let edges = graph.edges();
    let column_of: BTreeMap<&str, usize> = columns
        .iter()
        .enumerate()
        .flat_map(|(c, blocks)| {
            blocks.iter().flat_map(move |block| {
                let rows: Vec<&Row<'_>> = match block {
                    Block::Frame { rows, .. } => rows.iter().collect(),
                    Block::Subjects(row) => vec![row],
                };
                rows.into_iter()
                    .flat_map(|row| row.boxes.iter().map(|b| b.node.id.as_str()))
                    .map(move |id| (id, c))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut lanes: Vec<Vec<usize>> = vec![Vec::new(); columns.len()];
    for (i, edge) in edges.iter().enumerate() {
        if matches!(edge.kind, EdgeKind::Return | EdgeKind::DeadLetter)
            && let (Some(&from), Some(&to)) = (
                column_of.get(edge.from.as_str()),
                column_of.get(edge.to.as_str()),
            )
            && from == to
        {
            lanes[from].push(i);
        }
    }

    // Place everything.
    let mut placed: BTreeMap<&str, Placed> = BTreeMap::new();
    let mut shapes = String::new();
    let mut x = MARGIN;
    let mut height: f64 = 0.0;
    let mut lane_x: BTreeMap<usize, f64> = BTreeMap::new();
    for (c, blocks) in columns.iter().enumerate() {
        let width = blocks.iter().map(Block::width).fold(0.0, f64::max);
        let mut y = MARGIN + TITLE_HEIGHT;
        for block in blocks {
            let bx = x + (width - block.width()) / 2.0;
            match block {
                Block::Frame { caption, rows } => {
                    let rect = Rect {
                        x: bx,
                        y,
                        w: block.width(),
                        h: block.height(),
                    };
                    let _ = writeln!(
                        shapes,
                        r##"<rect class="flow" x="{}" y="{}" width="{}" height="{}" rx="10" fill="#f8fafc" stroke="#94a3b8"/>"##,
                        n(rect.x),
                        n(rect.y),
                        n(rect.w),
                        n(rect.h)
                    );
                    let _ = writeln!(
                        shapes,
                        r##"<text x="{}" y="{}" font-size="{LABEL_SIZE}" font-style="italic" fill="#475569">{}</text>"##,
                        n(rect.x + FRAME_PAD),
                        n(rect.y + FRAME_CAPTION - 2.0),
                        text::xml(caption)
                    );
                    let mut ry = y + FRAME_CAPTION + FRAME_PAD;
                    for row in rows {
                        place_row(
                            row,
                            rect.x + (rect.w - row.width()) / 2.0,
                            ry,
                            &mut placed,
                            &mut shapes,
                        );
                        ry += row.height() + ROW_GAP;
                    }
                }
                Block::Subjects(row) => {
                    place_row(row, bx, y, &mut placed, &mut shapes);
                }
            }
            y += block.height() + BLOCK_GAP;
        }
        height = height.max(y - BLOCK_GAP);
        let mut right = x + width;
        for &edge in &lanes[c] {
            right += LANE_GAP;
            lane_x.insert(edge, right);
        }
        // The lanes' labels are written at their right.
        let label_room = lanes[c]
            .iter()
            .map(|&e| edges[e].label.as_deref().unwrap_or("").chars().count() as f64)
            .fold(0.0, f64::max)
            * LABEL_CHAR_WIDTH;
        if !lanes[c].is_empty() {
            right += 6.0 + label_room;
        }
        x = right + COLUMN_GAP;
    }
    let width = x - COLUMN_GAP + MARGIN;
    let height = height + MARGIN;

    // The edges, under the boxes' labels but over the frames.
    let mut lines = String::new();
    let mut labels = String::new();
    for (i, edge) in edges.iter().enumerate() {
        let (Some(from), Some(to)) = (placed.get(edge.from.as_str()), placed.get(edge.to.as_str()))
        else {
            continue;
        };
        let (color, marker) = match edge.kind {
            EdgeKind::Return | EdgeKind::Continue | EdgeKind::DeadLetter => ("#b91c1c", "err"),
            EdgeKind::RespondTo | EdgeKind::Listens => ("#b45309", "subject"),
            EdgeKind::Next => ("#475569", "next"),
            EdgeKind::Imports => ("#6d28d9", "imports"),
        };
        let dash = if edge.kind.dashed() {
            r#" stroke-dasharray="5 4""#
        } else if edge.kind == EdgeKind::Imports {
            r#" stroke-dasharray="2 3""#
        } else {
            ""
        };
        let (path, label_at) = if edge.kind == EdgeKind::Imports {
            // Sideways, from the importer's right side to the exporter's left, which stands in
            // a column further right; the label just right of the importer.
            let (a, b) = (from.rect, to.rect);
            let (x1, y1) = (a.right(), a.cy());
            let (x2, y2) = (b.x, b.cy());
            let bend = ((x2 - x1).abs() / 2.0).max(24.0);
            let path = format!(
                "M{} {} C{} {} {} {} {} {}",
                n(x1),
                n(y1),
                n(x1 + bend),
                n(y1),
                n(x2 - bend),
                n(y2),
                n(x2),
                n(y2)
            );
            (path, (x1 + 6.0, y1 - 6.0, "start"))
        } else if let Some(&lane) = lane_x.get(&i) {
            // Down a lane at the right: leave below the source's row, enter the target's side.
            let (a, b) = (from.rect, to.rect);
            let start_x = a.cx() + a.w / 4.0;
            let turn_y = from.row_bottom + 12.0;
            let path = format!(
                "M{} {} L{} {} L{} {} L{} {} L{} {}",
                n(start_x),
                n(a.bottom()),
                n(start_x),
                n(turn_y),
                n(lane),
                n(turn_y),
                n(lane),
                n(b.cy()),
                n(b.right()),
                n(b.cy())
            );
            (path, (lane + 5.0, (turn_y + b.cy()) / 2.0, "start"))
        } else {
            let (a, b) = (from.rect, to.rect);
            let offset = if edge.kind == EdgeKind::Continue {
                12.0
            } else {
                0.0
            };
            let (x1, y1) = (a.cx() + offset, a.bottom());
            let (x2, y2) = (b.cx() + offset, b.y);
            let bend = ((y2 - y1).abs() / 2.0).max(24.0);
            let path = format!(
                "M{} {} C{} {} {} {} {} {}",
                n(x1),
                n(y1),
                n(x1),
                n(y1 + bend),
                n(x2),
                n(y2 - bend),
                n(x2),
                n(y2)
            );
            (
                path,
                ((x1 + x2) / 2.0 + 6.0, (y1 + y2) / 2.0 + 4.0, "start"),
            )
        };
        let _ = writeln!(
            lines,
            r#"<path d="{path}" fill="none" stroke="{color}" stroke-width="1.4"{dash} marker-end="url(#arrow-{marker})"/>"#
        );
        if let Some(label) = &edge.label {
            let (lx, ly, anchor) = label_at;
            let _ = writeln!(
                labels,
                r##"<text x="{}" y="{}" font-size="{LABEL_SIZE}" text-anchor="{anchor}" fill="{color}" stroke="#ffffff" stroke-width="3" paint-order="stroke">{}</text>"##,
                n(lx),
                n(ly),
                text::xml(label)
            );
        }
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="{FONT_SIZE}">"#,
        w = n(width),
        h = n(height)
    );
    let _ = writeln!(out, "<title>{}</title>", text::xml(&graph.title));
    out.push_str("<defs>\n");
    let mut markers = vec![
        ("next", "#475569"),
        ("err", "#b91c1c"),
        ("subject", "#b45309"),
    ];
    if !graph.imports.is_empty() {
        markers.push(("imports", "#6d28d9"));
    }
    for (name, color) in markers {
        let _ = writeln!(
            out,
            r#"<marker id="arrow-{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0 1 L10 5 L0 9 z" fill="{color}"/></marker>"#
        );
    }
    out.push_str("</defs>\n");
    let _ = writeln!(
        out,
        r##"<rect x="0" y="0" width="{}" height="{}" fill="#ffffff"/>"##,
        n(width),
        n(height)
    );
    let _ = writeln!(
        out,
        r##"<text x="{}" y="{}" font-size="16" font-weight="bold" fill="#0f172a">{}</text>"##,
        n(MARGIN),
        n(MARGIN + 16.0),
        text::xml(&graph.title)
    );
    out.push_str(&shapes);
    out.push_str(&lines);
    out.push_str(&labels);
    out.push_str("</svg>\n");
    out
}

/// Draws a row of boxes from `(x, y)`, in a dashed group box when it is one.
fn place_row<'a>(
    row: &Row<'a>,
    x: f64,
    y: f64,
    placed: &mut BTreeMap<&'a str, Placed>,
    out: &mut String,
) {
    let row_bottom = y + row.height();
    let (mut bx, by) = if row.group {
        let _ = writeln!(
            out,
            r##"<rect class="group" x="{}" y="{}" width="{}" height="{}" rx="8" fill="none" stroke="#64748b" stroke-dasharray="4 3"/>"##,
            n(x),
            n(y),
            n(row.width()),
            n(row.height())
        );
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" font-size="{LABEL_SIZE}" font-style="italic" fill="#64748b">group</text>"##,
            n(x + GROUP_PAD),
            n(y + GROUP_CAPTION)
        );
        (x + GROUP_PAD, y + GROUP_PAD + GROUP_CAPTION)
    } else {
        (x, y)
    };
    for item in &row.boxes {
        let rect = Rect {
            x: bx,
            y: by,
            w: item.w,
            h: item.h,
        };
        draw_box(item, rect, out);
        placed.insert(item.node.id.as_str(), Placed { rect, row_bottom });
        bx += item.w + BOX_GAP;
    }
}

fn draw_box(item: &BoxItem<'_>, rect: Rect, out: &mut String) {
    let (fill, stroke) = item.style.colors();
    let _ = writeln!(out, r#"<g id="{}">"#, text::xml(&item.node.id));
    match item.style {
        Style::Subject => {
            let slant = 8.0;
            let _ = writeln!(
                out,
                r#"<polygon points="{},{} {},{} {},{} {},{}" fill="{fill}" stroke="{stroke}" stroke-width="1.2"/>"#,
                n(rect.x + slant),
                n(rect.y),
                n(rect.right()),
                n(rect.y),
                n(rect.right() - slant),
                n(rect.bottom()),
                n(rect.x),
                n(rect.bottom())
            );
        }
        _ => {
            let radius: f64 = match item.style {
                Style::Trigger | Style::Done | Style::Error => 14.0,
                _ => 4.0,
            };
            let width = if item.style == Style::Trigger {
                "1.8"
            } else {
                "1.2"
            };
            let _ = writeln!(
                out,
                r#"<rect x="{}" y="{}" width="{}" height="{}" rx="{}" fill="{fill}" stroke="{stroke}" stroke-width="{width}"/>"#,
                n(rect.x),
                n(rect.y),
                n(rect.w),
                n(rect.h),
                n(radius.min(rect.h / 2.0))
            );
        }
    }
    for (i, line) in item.node.lines.iter().enumerate() {
        let weight = if i == 0 && item.style != Style::Subject {
            r#" font-weight="bold""#
        } else {
            ""
        };
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" text-anchor="middle"{weight} fill="#0f172a" xml:space="preserve">{}</text>"##,
            n(rect.cx()),
            n(rect.y + PAD_Y + LINE_HEIGHT * (i as f64 + 1.0) - 4.0),
            text::xml(line)
        );
    }
    out.push_str("</g>\n");
}

/// A coordinate with at most one decimal, without a trailing `.0`.
fn n(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded:.1}")
    }
}
