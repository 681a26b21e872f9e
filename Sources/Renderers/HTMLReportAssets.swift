/// The style sheet and script inlined into every report (``HTMLReport``).
///
/// The script reads the data block `#memtrace-data` and draws each
/// `.flame-graph` element's tree (`data-tree`) as absolutely positioned `div`s
/// of class `frame`; one with `data-metrics` has a menu to draw another of the
/// snapshot's figures instead. It never builds markup from data: every name is
/// set with `textContent`. A URL fragment `#search=NAME`, `#zoom=NAME` or
/// `#metric=peak` opens the report searched for, zoomed into a function, or
/// drawing that figure.
enum HTMLReportAssets {
    static let style = """
        :root { --ink: #1d1f23; --muted: #5f6570; --line: #dde1e6; --panel: #ffffff; --page: #f4f5f7; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
          color: var(--ink); background: var(--page); }
        header { padding: 18px 28px 14px; background: #1f2430; color: #f3f4f6; }
        header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; }
        header .program { color: #ffb74d; }
        header p { margin: 2px 0; color: #c4c9d4; }
        header code { font-size: 13px; color: #e6e8ec; }
        main { padding: 6px 28px 32px; max-width: 1500px; }
        h2 { font-size: 17px; margin: 26px 0 6px; }
        h3 { font-size: 15px; margin: 18px 0 4px; }
        .hint, .legend { color: var(--muted); margin: 0 0 8px; }
        .cards { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 16px; }
        .card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 170px; }
        .card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
        .card .value { font-size: 22px; font-weight: 650; }
        .card .note { color: var(--muted); font-size: 12px; }
        .toolbar { display: flex; gap: 10px; align-items: center; margin: 6px 0; }
        .toolbar input { font: inherit; padding: 4px 8px; width: 280px; border: 1px solid #b9bfc8; border-radius: 5px; }
        .toolbar select { font: inherit; padding: 3px 6px; border: 1px solid #b9bfc8; border-radius: 5px; background: #fff; }
        .toolbar button { font: inherit; padding: 4px 10px; border: 1px solid #b9bfc8; border-radius: 5px; background: #fff; cursor: pointer; }
        .toolbar .status { color: var(--muted); }
        .flame { position: relative; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; overflow: hidden; }
        .frame { position: absolute; height: 18px; padding: 0 4px; border-right: 1px solid var(--panel);
          border-bottom: 1px solid var(--panel); font: 12px/18px "DejaVu Sans Mono", ui-monospace, monospace;
          color: #1a1a1a; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; cursor: pointer; }
        .frame:hover { outline: 1px solid #333; z-index: 1; }
        .frame.ancestor { opacity: .55; }
        .frame.match { background: #d54ee8 !important; color: #fff; }
        .frame.dim { opacity: .35; }
        #tooltip { position: fixed; z-index: 10; display: none; max-width: 640px; padding: 7px 10px; border-radius: 5px;
          background: rgba(24, 26, 31, .95); color: #f5f5f5; font-size: 12px; pointer-events: none; white-space: pre-wrap; }
        #tooltip b { color: #ffcc80; }
        svg.timeline { width: 100%; max-width: 1100px; height: auto; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
        svg .grid { stroke: #eceef1; }
        svg .axis { font-size: 11px; fill: var(--muted); }
        svg polyline { fill: none; stroke-width: 2; stroke-linejoin: round; }
        svg .current { stroke: #1e6fd9; }
        svg .peak { stroke: #d9480f; stroke-dasharray: 6 4; }
        svg .rss { stroke: #2f9e44; }
        svg .snapshot { stroke: #868e96; stroke-dasharray: 2 3; }
        svg polygon { stroke: #fff; stroke-width: .5; }
        .s0 { fill: #4263eb; background: #4263eb; } .s1 { fill: #f08c00; background: #f08c00; }
        .s2 { fill: #2f9e44; background: #2f9e44; } .s3 { fill: #ae3ec9; background: #ae3ec9; }
        .s4 { fill: #e03131; background: #e03131; } .s5 { fill: #1098ad; background: #1098ad; }
        .others { fill: #ced4da; background: #ced4da; }
        ul.legend.sites { list-style: none; padding: 0; margin: 8px 0 0; font-size: 13px; }
        ul.legend.sites li { margin: 2px 0; font-family: "DejaVu Sans Mono", ui-monospace, monospace; font-size: 12px; }
        .muted { color: var(--muted); }
        .swatch { display: inline-block; width: 12px; height: 12px; margin-right: 8px; vertical-align: -1px; border-radius: 2px; }
        .key { display: inline-block; width: 22px; height: 0; margin: 0 5px 3px 10px; border-top: 3px solid; vertical-align: middle; }
        .key.current { border-color: #1e6fd9; } .key.peak { border-color: #d9480f; border-top-style: dashed; }
        .key.rss { border-color: #2f9e44; } .key.snapshot { border-color: #868e96; border-top-style: dotted; }
        table { border-collapse: collapse; width: 100%; background: var(--panel); border: 1px solid var(--line); }
        th, td { padding: 4px 10px; border-bottom: 1px solid #eef0f2; text-align: left; vertical-align: top; }
        th { background: #f0f2f5; font-weight: 600; }
        td.function { font-family: "DejaVu Sans Mono", ui-monospace, monospace; font-size: 12.5px; cursor: pointer; word-break: break-all; }
        td.function:hover { text-decoration: underline; }
        code.source { display: block; max-width: min(48ch, 25vw); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; color: #6b7280; font-size: 11.5px; }
        .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        .grow { color: #c92a2a; } .shrink { color: #2b8a3e; }
        table.sizes td.bar-cell, table.sizes th.bar-cell { width: 55%; }
        table.sizes .bar { height: 12px; min-width: 1px; margin-top: 3px; background: #f08c45; border-radius: 2px; }
        td.kind { font-weight: 600; }
        td.kind.grows { color: #c92a2a; } td.kind.slows { color: #e67700; } td.kind.plateaus { color: #1971c2; }
        footer { margin-top: 28px; color: var(--muted); font-size: 12px; }
        """

    static let script = #"""
        (function () {
          'use strict';
          var ROW = 19;
          var data = JSON.parse(document.getElementById('memtrace-data').textContent);
          var tooltip = document.getElementById('tooltip');

          function formatBytes(n) {
            var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], value = n;
            for (var i = 0; i < units.length; i++) {
              if (Math.abs(value) < 100 && i > 0) return value.toFixed(1) + ' ' + units[i];
              if (Math.abs(value) < 10240 || i === units.length - 1) return Math.round(value) + ' ' + units[i];
              value /= 1024;
            }
          }
          function percent(part, total) { return total > 0 ? (100 * part / total).toFixed(1) + '%' : ''; }
          function hash(text) {
            var h = 2166136261;
            for (var i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 16777619); }
            return (h >>> 0) / 4294967296;
          }
          // A standard library's frame in grey, so that the program's own stand out.
          function colour(name, growth, library) {
            var r = hash(name);
            if (library) return 'hsl(' + Math.round(210 + 20 * r) + ',10%,' + Math.round(80 + 8 * r) + '%)';
            return growth ? 'hsl(' + Math.round(355 + 15 * r) % 360 + ',70%,' + Math.round(62 + 12 * r) + '%)'
                          : 'hsl(' + Math.round(18 + 32 * r) + ',88%,' + Math.round(58 + 10 * r) + '%)';
          }

          // Arrays [name, detail, bytes, blocks, children] become linked nodes.
          function build(tree) {
            var nodes = [];
            function make(array, parent, depth) {
              var node = { id: nodes.length, name: tree.names[array[0]], detail: tree.details[array[1]],
                           value: array[2], count: array[3], library: array[5] === 1, parent: parent,
                           depth: depth, children: [] };
              nodes.push(node);
              for (var i = 0; i < array[4].length; i++) node.children.push(make(array[4][i], node, depth + 1));
              return node;
            }
            return { root: make(tree.root, null, 0), nodes: nodes };
          }

          // The figures a flame graph can draw, with the section's title for each; the menu's
          // entries are data.titles.
          var HEADINGS = {
            live: 'Live bytes by call stack',
            peak: 'Bytes held at the peak, by call stack',
            total: 'Every allocation of the run, by call stack',
            temporary: 'Temporary allocations by call stack'
          };
          var titles = data.titles || {};

          function FlameGraph(host, tree, growth) {
            this.host = host;
            this.growth = growth;
            this.query = '';
            this.load(tree);
            var toolbar = document.createElement('div');
            toolbar.className = 'toolbar';
            var self = this;
            var metrics = (host.dataset.metrics || '').split(' ').filter(function (name) { return data[name] && HEADINGS[name] && titles[name]; });
            if (metrics.length > 1) {
              this.menu = document.createElement('select');
              this.menu.setAttribute('aria-label', 'figure drawn');
              metrics.forEach(function (name) {
                var option = document.createElement('option');
                option.value = name;
                option.textContent = titles[name];
                self.menu.appendChild(option);
              });
              this.menu.value = host.dataset.tree;
              this.menu.addEventListener('change', function () { self.show(self.menu.value); });
              toolbar.appendChild(this.menu);
            }
            this.search = document.createElement('input');
            this.search.type = 'search';
            this.search.placeholder = 'Search functions…';
            this.search.setAttribute('aria-label', 'search functions');
            var reset = document.createElement('button');
            reset.type = 'button';
            reset.textContent = 'Reset zoom';
            this.status = document.createElement('span');
            this.status.className = 'status';
            toolbar.appendChild(this.search);
            toolbar.appendChild(reset);
            toolbar.appendChild(this.status);
            this.canvas = document.createElement('div');
            this.canvas.className = 'flame';
            host.appendChild(toolbar);
            host.appendChild(this.canvas);
            this.search.addEventListener('input', function () { self.query = self.search.value.toLowerCase(); self.render(); });
            reset.addEventListener('click', function () { self.zoomed = self.root; self.render(); });
            this.canvas.addEventListener('click', function (event) {
              var frame = event.target.closest('.frame');
              if (frame) { self.zoomed = self.nodes[+frame.dataset.node]; self.render(); }
            });
            this.canvas.addEventListener('mousemove', function (event) {
              var frame = event.target.closest('.frame');
              if (!frame) { tooltip.style.display = 'none'; return; }
              self.showTooltip(self.nodes[+frame.dataset.node], event);
            });
            this.canvas.addEventListener('mouseleave', function () { tooltip.style.display = 'none'; });
            window.addEventListener('resize', function () { self.render(); });
            this.render();
          }

          FlameGraph.prototype.load = function (tree) {
            var built = build(tree);
            this.root = built.root;
            this.nodes = built.nodes;
            this.zoomed = this.root;
          };

          // Draws another of the snapshot's figures (a key of HEADINGS), zoomed out, search kept.
          FlameGraph.prototype.show = function (metric) {
            var own = Object.prototype.hasOwnProperty;  // not "__proto__" or "constructor"
            if (!this.menu || !own.call(data, metric) || !own.call(HEADINGS, metric) || !own.call(titles, metric)) return;
            this.menu.value = metric;
            this.host.dataset.tree = metric;
            this.load(data[metric]);
            var title = this.host.parentNode.querySelector('h2');
            if (title) title.textContent = HEADINGS[metric];
            // The top-sites table follows: the one for this figure is shown.
            var tables = document.querySelectorAll('table.sites[data-metric]');
            for (var i = 0; i < tables.length; i++) tables[i].hidden = tables[i].dataset.metric !== metric;
            var named = document.querySelector('.sites-metric');
            if (named) named.textContent = titles[metric];
            this.render();
          };

          FlameGraph.prototype.matches = function (node) {
            return this.query !== '' && node.name.toLowerCase().indexOf(this.query) >= 0;
          };

          FlameGraph.prototype.frame = function (node, left, width, row, extra) {
            var element = document.createElement('div');
            element.className = 'frame' + extra + (this.matches(node) ? ' match' : '');
            element.style.left = (100 * left) + '%';
            element.style.width = (100 * width) + '%';
            element.style.top = (row * ROW) + 'px';
            element.style.background = colour(node.name, this.growth, node.library);
            element.dataset.node = node.id;
            element.textContent = node.name;
            element.setAttribute('aria-label', node.name + ', ' + formatBytes(node.value));
            this.canvas.appendChild(element);
          };

          FlameGraph.prototype.render = function () {
            this.canvas.textContent = '';
            var chain = [], node = this.zoomed;
            while (node.parent) { node = node.parent; chain.unshift(node); }
            for (var i = 0; i < chain.length; i++) this.frame(chain[i], 0, 1, i, ' ancestor');
            var pixels = Math.max(this.canvas.clientWidth, 1), self = this, deepest = chain.length;
            var total = this.zoomed.value || 1;
            (function draw(node, left, row) {
              var width = node.value / total;
              if (width * pixels < 0.6) return;
              self.frame(node, left, width, row, '');
              deepest = Math.max(deepest, row);
              var x = left;
              for (var i = 0; i < node.children.length; i++) {
                draw(node.children[i], x, row + 1);
                x += node.children[i].value / total;
              }
            })(this.zoomed, 0, chain.length);
            this.canvas.style.height = ((deepest + 1) * ROW + 2) + 'px';
            var text = formatBytes(this.root.value) + ' in ' + (this.root.children.length ? 'all stacks' : 'no stack');
            if (this.zoomed !== this.root) text += ' · zoomed into ' + this.zoomed.name + ' (' + formatBytes(this.zoomed.value) + ')';
            if (this.query) {
              var matched = 0;
              (function sum(node) {
                if (self.matches(node)) { matched += node.value; return; }
                for (var i = 0; i < node.children.length; i++) sum(node.children[i]);
              })(this.root);
              text += ' · matched ' + formatBytes(matched) + ' (' + percent(matched, this.root.value) + ')';
            }
            this.status.textContent = text;
          };

          FlameGraph.prototype.showTooltip = function (node, event) {
            tooltip.textContent = '';
            var title = document.createElement('b');
            title.textContent = node.name;
            tooltip.appendChild(title);
            var lines = [];
            if (node.detail) lines.push(node.detail);
            lines.push(formatBytes(node.value) + ' (' + node.value + ' B) in ' + node.count + ' blocks');
            lines.push(percent(node.value, this.root.value) + ' of all' +
                       (this.zoomed !== this.root ? ', ' + percent(node.value, this.zoomed.value) + ' of the zoomed frame' : ''));
            tooltip.appendChild(document.createTextNode('\n' + lines.join('\n')));
            tooltip.style.display = 'block';
            var x = Math.min(event.clientX + 14, window.innerWidth - tooltip.offsetWidth - 8);
            var y = event.clientY + 16;
            if (y + tooltip.offsetHeight > window.innerHeight) y = event.clientY - tooltip.offsetHeight - 8;
            tooltip.style.left = x + 'px';
            tooltip.style.top = y + 'px';
          };

          var graphs = [];
          var hosts = document.querySelectorAll('.flame-graph');
          for (var i = 0; i < hosts.length; i++) {
            var name = hosts[i].dataset.tree;
            if (data[name]) graphs.push(new FlameGraph(hosts[i], data[name], name === 'growth'));
          }
          // A function in a table searches for it in every flame graph.
          var cells = document.querySelectorAll('td.function');
          for (var j = 0; j < cells.length; j++) {
            cells[j].addEventListener('click', function (event) {
              var name = event.currentTarget.dataset.function;
              graphs.forEach(function (graph) { graph.search.value = name; graph.query = name.toLowerCase(); graph.render(); });
              document.getElementById('flame-section').scrollIntoView({ behavior: 'smooth' });
            });
          }
            // A link can open the report searched or zoomed: report.html#search=leak, #zoom=main.
        var fragment = {};
        location.hash.replace(/^#/, '').split('&').forEach(function (part) {
          var pair = part.split('=');
          // A malformed escape (#search=%) is taken as written rather than stop the script.
          if (pair.length !== 2) return;
          try { fragment[pair[0]] = decodeURIComponent(pair[1]); } catch (e) { fragment[pair[0]] = pair[1]; }
        });
        graphs.forEach(function (graph) {
          if (fragment.metric) graph.show(fragment.metric);
          if (fragment.zoom) {
            var target = graph.nodes.filter(function (node) { return node.name === fragment.zoom; })[0];
            if (target) graph.zoomed = target;
          }
          if (fragment.search) { graph.search.value = fragment.search; graph.query = fragment.search.toLowerCase(); }
          if (fragment.zoom || fragment.search) graph.render();
        });
        document.body.dataset.flameFrames = document.querySelectorAll('.frame').length;
        })();
        """#
}
