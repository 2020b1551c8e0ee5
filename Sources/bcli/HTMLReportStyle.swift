/// The one stylesheet of `batch report`'s page, inlined in `<style>`: system fonts only (no web
/// fonts, nothing fetched), colours by `data-status`, the timeline's bars as positioned boxes, and
/// a print layout that opens nothing by itself (an auditor prints what they expanded).
enum HTMLReportStyle {
    static let css = """
        :root { color-scheme: light; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --muted: #656d76; --line: #d0d7de; }
        * { box-sizing: border-box; }
        body { margin: 0 auto; max-width: 1200px; padding: 1rem 1.5rem 3rem; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; background: #fff; }
        code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
        h1 { font-size: 1.4rem; margin: .5rem 0 0; word-break: break-all; }
        h2 { font-size: 1.1rem; margin: 2rem 0 .5rem; padding-bottom: .25rem; border-bottom: 1px solid var(--line); }
        .sub, .hint, .none, .meta { color: var(--muted); }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; vertical-align: top; padding: .3rem .5rem; border-bottom: 1px solid var(--line); }
        #identity th { width: 12rem; white-space: nowrap; font-weight: 600; }
        #identity td, .endpoint, .facts dd { word-break: break-all; }
        .reason { overflow-wrap: anywhere; }
        #steps { table-layout: fixed; }
        #steps th:nth-child(1) { width: 3rem; } #steps th:nth-child(2) { width: 11rem; } #steps th:nth-child(3) { width: 5rem; }
        #steps th:nth-child(5) { width: 9rem; } #steps th:nth-child(6) { width: 4rem; } #steps th:nth-child(7) { width: 5.5rem; }
        #steps th:nth-child(8) { width: 32%; }
        #run > details { margin-top: .5rem; }
        tr.step td { border-bottom: none; }
        tr.exchange td { padding-top: 0; }
        .facts { display: grid; grid-template-columns: max-content 1fr; gap: 0 .75rem; margin: 0 0 .4rem; font-size: 12px; }
        .facts dt { color: var(--muted); } .facts dd { margin: 0; }
        details.blob, details.pages { margin: .2rem 0; border: 1px solid var(--line); border-radius: 4px; }
        details > summary { cursor: pointer; padding: .2rem .5rem; background: #f6f8fa; }
        details pre { margin: 0; padding: .5rem; max-height: 32rem; overflow: auto; white-space: pre-wrap; word-break: break-all; }
        .note { margin: .25rem .5rem; font-size: 12px; color: var(--muted); }
        .bad { color: var(--bad); }
        .state, .badge { display: inline-block; padding: 0 .45rem; border-radius: 1rem; font-size: 12px; background: #eaeef2; }
        [data-status="committed"].badge, [data-status="replayed"].badge, [data-status="reconciled_applied"].badge,
        .state[data-state="completed"] { background: #dafbe1; color: var(--ok); }
        [data-status="failed"].badge, [data-status="rollback_failed"].badge,
        .state[data-state="failed"] { background: #ffebe9; color: var(--bad); }
        [data-status="unknown"].badge, .state[data-state="in_doubt"], .state[data-state="interrupted"],
        .state[data-state="partially_committed"] { background: #fff8c5; color: var(--warn); }
        [data-status="rolled_back"].badge, .state[data-state="rolled_back"] { background: #fbefff; color: #8250df; }
        .axis { display: flex; justify-content: space-between; margin-left: 14rem; margin-right: 5rem; color: var(--muted); font-size: 12px; }
        .lane { display: flex; align-items: center; gap: .5rem; height: 1.4rem; }
        .lane .label { width: 13.5rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-size: 12px; }
        .lane .ms { width: 4.5rem; font-size: 12px; color: var(--muted); }
        .track { position: relative; flex: 1; height: .9rem; background: #f6f8fa; border-radius: 2px; }
        .bar { position: absolute; top: 0; bottom: 0; min-width: 2px; border-radius: 2px; background: #8c959f; }
        .bar[data-status="committed"], .bar[data-status="replayed"], .bar[data-status="reconciled_applied"] { background: #2da44e; }
        .bar[data-status="failed"], .bar[data-status="rollback_failed"] { background: #cf222e; }
        .bar[data-status="rolled_back"] { background: #8250df; }
        .bar.open { background: repeating-linear-gradient(45deg, #d4a72c, #d4a72c 4px, #fff8c5 4px, #fff8c5 8px); }
        .verdict { font-weight: 600; } .verdict.ok { color: var(--ok); } .verdict.bad, .verdict.changed { color: var(--bad); }
        pre.diff-text { padding: .5rem; background: #f6f8fa; white-space: pre-wrap; word-break: break-all; }
        .diff-line.add { color: var(--ok); } .diff-line.del { color: var(--bad); } .diff-line.chg { color: var(--warn); }
        .diff-line.head { font-weight: 600; } .diff-line.hunk { color: #0550ae; }
        tr.diff-step[data-change="same"] { color: var(--muted); }
        footer { margin-top: 2rem; color: var(--muted); font-size: 12px; }
        @media print { details pre { max-height: none; } body { max-width: none; } }
        """
}
