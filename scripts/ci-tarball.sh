# Sourced by the checks of the packed package (scripts/ci-pack.sh, scripts/ci-prebuilt-*.sh), after
# they define $here (the checkout) and fail(). `use_tarball SCRATCH [TARBALL]` sets $tarball: the
# one .ci/run packed once for every check, when given, else a new `npm pack` of the checkout into
# SCRATCH (a check run on its own).
use_tarball() {
  if [ -n "${2:-}" ]; then
    tarball=$(realpath "$2")
    echo "== the tarball $tarball"
  else
    echo "== npm pack"
    (cd "$here" && npm pack --silent --pack-destination "$1" >/dev/null)
    tarball=$(echo "$1"/pidns-*.tgz)
  fi
  [ -f "$tarball" ] || fail "no tarball at $tarball"
}
