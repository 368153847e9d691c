"""The browser view's page (``--serve``'s ``/``): the live picture, the legend (``{legend}``) and the figures of
``/stats.json``, asked for twice a second: frames/s (none in the run's first second) and latency over the last
second, the frames shown and dropped; it says when the source sends no new picture and when the run stops answering,
and asks for its picture again when the run answers again or when its stream was refused (a server full:
:data:`~roadseg.pipeline.sinks.httpd.CLIENTS`).

Example:
    >>> "/stats.json" in PAGE.format(legend="")
    True
"""

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>roadseg live</title>
<style>body{{background:#111;color:#eee;font:14px sans-serif;margin:16px}} img{{max-width:100%;display:block}}
.sw{{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}}
.cls{{white-space:nowrap}}</style></head>
<body><h3>roadseg live</h3><img id="view" src="/view.mjpg" alt="live segmentation">
<p id="stats">waiting for frames...</p><p>{legend}</p>
<script>
const view = document.getElementById('view');
view.addEventListener('load', () => {{ view.dataset.loaded = '1'; }});
let lost = false;  // (the run stopped answering: its picture is opened again once it answers)
let refused = 0;  // (when the picture's stream was refused, a 503 of a server full: asked again 2 s on)
view.addEventListener('error', () => {{ refused = Date.now(); }});
let frames = -1, since = Date.now();  // (the count last seen, and since when: a source silent 3 s is said so)
async function poll() {{
  try {{
    const r = await fetch('/stats.json', {{cache: 'no-store'}});
    if (!r.ok) throw new Error(r.status);
    const s = await r.json();
    const lat = s.latency_ms.p50 !== null  // (of the last second's frames, as the frames/s)
      ? `latency p50 ${{s.latency_ms.p50}} ms, p95 ${{s.latency_ms.p95}} ms (the last second)`
      : s.frames > 0 ? 'no frame in the last second' : 'latency: waiting for the first frame';
    if (s.frames !== frames) {{ frames = s.frames; since = Date.now(); }}
    const quiet = Math.floor((Date.now() - since) / 1000);
    const rate = s.frames > 0 && quiet >= 3 ? `no new picture for ${{quiet}} s (the camera or stream sends none; the `
      + `run's terminal says whether it reconnects)` : s.fps === null ? lat : `${{s.fps.toFixed(1)}} frames/s, ${{lat}}`;
    document.getElementById('stats').textContent = `${{rate}}, ${{s.frames}} frames shown, ${{s.dropped}} dropped`;
    document.body.dataset.frames = s.frames;
    if (lost || (refused && Date.now() - refused >= 2000)) {{
      lost = false; refused = 0; view.src = '/view.mjpg?' + Date.now();
    }}
  }} catch (e) {{
    lost = true;
    document.getElementById('stats').textContent =
      'no answer from roadseg (its run ended, or the network is down): the picture is its last; trying again...';
  }}
  setTimeout(poll, 500);
}}
poll();
</script></body></html>"""
