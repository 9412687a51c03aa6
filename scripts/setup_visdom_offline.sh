#!/usr/bin/env bash
# Install visdom's browser front-end from the npm registry, so that its dashboard renders without internet access.
#
#   bash scripts/setup_visdom_offline.sh        (PYTHON=path/to/python to pick the environment; default: python)
#
# `python -m visdom.server` downloads these files from CDNs at every start. This takes the same versions from
# npm packages (with `npm pack`: no node_modules, nothing kept but the files) and puts them where visdom's
# downloader would, in visdom's own static/ folder, with visdom's marker of a complete download written last.
# Afterwards both scripts/visdom_server.py and `python -m visdom.server` start without network access.
# Needs npm and a reachable npm registry once; run it again after upgrading visdom.
set -euo pipefail
PYTHON=${PYTHON:-python}
STATIC=$("$PYTHON" -c 'from visdom.utils.shared_utils import get_visdom_path; print(get_visdom_path("static"))')
VERSION=$("$PYTHON" -c 'import visdom; print(visdom.__version__)')
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

MJ=js/mathjax/2.7.5
# package@version   file in the package   destination under static/ (the names visdom's downloader uses)
FILES="
jquery@3.1.1             dist/jquery.min.js                        js/jquery.min.js
bootstrap@3.3.7          dist/js/bootstrap.min.js                  js/bootstrap.min.js
bootstrap@3.3.7          dist/css/bootstrap.min.css                css/bootstrap.min.css
bootstrap@3.3.7          dist/fonts/glyphicons-halflings-regular.eot    fonts/glyphicons-halflings-regular.eot
bootstrap@3.3.7          dist/fonts/glyphicons-halflings-regular.woff2  fonts/glyphicons-halflings-regular.woff2
bootstrap@3.3.7          dist/fonts/glyphicons-halflings-regular.woff   fonts/glyphicons-halflings-regular.woff
bootstrap@3.3.7          dist/fonts/glyphicons-halflings-regular.ttf    fonts/glyphicons-halflings-regular.ttf
bootstrap@3.3.7          dist/fonts/glyphicons-halflings-regular.svg    fonts/glyphicons-halflings-regular.svg#glyphicons_halflingsregular
react@16.2.0             umd/react.production.min.js               js/react-react.min.js
react-dom@16.2.0         umd/react-dom.production.min.js           js/react-dom.min.js
react-modal@3.1.10       dist/react-modal.min.js                   js/react-modal.min.js
plotly.js-dist-min@2.11.1  plotly.min.js                           js/plotly-plotly.min.js
sjcl@1.0.7               sjcl.js                                   js/sjcl.js
layout-bin-packer@1.4.0  dist/layout-bin-packer.js                 js/layout_bin_packer.js
layout-bin-packer@1.4.0  dist/layout-bin-packer.js.map             js/layout-bin-packer.js.map
d3@3.5.17                d3.min.js                                 js/d3.v3.min.js
d3-selection-multi@1.0.1 build/d3-selection-multi.js               js/d3-selection-multi.v1.js
save-svg-as-png@1.4.17   lib/saveSvgAsPng.js                       js/saveSvgAsPng.js
react-resizable@1.4.6    css/styles.css                            css/react-resizable-styles.css
react-grid-layout@0.16.3 css/styles.css                            css/react-grid-layout-styles.css
classnames@2.2.5         index.js                                  fonts/classnames
mathjax@2.7.5            MathJax.js                                $MJ/MathJax.js
mathjax@2.7.5            config/Safe.js                            $MJ/config/Safe.js
mathjax@2.7.5            config/TeX-AMS-MML_HTMLorMML.js           $MJ/config/TeX-AMS-MML_HTMLorMML.js
mathjax@2.7.5            extensions/Safe.js                        $MJ/extensions/Safe.js
mathjax@2.7.5            jax/output/SVG/fonts/TeX/fontdata.js      $MJ/jax/output/SVG/fonts/TeX/fontdata.js
mathjax@2.7.5            jax/output/SVG/jax.js                     $MJ/jax/output/SVG/jax.js
mathjax@2.7.5            jax/output/SVG/fonts/TeX/Size1/Regular/Main.js  $MJ/jax/output/SVG/fonts/TeX/Size1/Regular/Main.js
mathjax@2.7.5            jax/output/SVG/config.js                  $MJ/jax/output/SVG/config.js
"

rm -f "$STATIC/version.built"
echo "$FILES" | while read -r pkg src dest; do
    [ -n "$pkg" ] || continue
    dest=${dest/\$MJ/$MJ}
    if [ ! -d "$WORK/$pkg" ]; then
        echo "fetching $pkg"
        tarball=$(cd "$WORK" && npm pack --silent "$pkg" | tail -n 1)
        mkdir -p "$WORK/$pkg"
        tar --warning=no-unknown-keyword -xzf "$WORK/$tarball" -C "$WORK/$pkg"
    fi
    mkdir -p "$(dirname "$STATIC/$dest")"
    cp "$WORK/$pkg/package/$src" "$STATIC/$dest"
done
echo "$VERSION" > "$STATIC/version.built"
echo "visdom $VERSION front-end installed in $STATIC"
