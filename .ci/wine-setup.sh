#!/bin/sh
# wine-setup.sh [DIR] - make this machine able to run the Windows test binaries
# of evsel under Wine, so that
#
#     PATH="DIR/bin:$PATH" GOOS=windows GOARCH=amd64 go test ./ ./selector/
#
# builds for Windows and runs each test binary through `go_windows_amd64_exec`
# (go test's convention for running binaries of a foreign GOOS/GOARCH).
#
# What it does, each step skipped when already done (so it is cheap to rerun):
#   1. installs Debian's Wine 8 (wine64) and the MinGW binutils with apt-get;
#   2. makes a 64-bit Wine prefix in DIR/prefix, headless;
#   3. adds bcryptprimitives.dll to the prefix: Go >= 1.22 calls ProcessPrng
#      from it at start-up, and Wine 8.0 has no such DLL. The stand-in is a
#      code-less DLL whose one export forwards to advapi32.SystemFunction036
#      (RtlGenRandom), which has the same signature;
#   4. writes DIR/bin/go_windows_amd64_exec, which runs its arguments under
#      wine64 with that prefix.
#
# It prints the PATH to use as its last line. DIR defaults to $EVSEL_WINE_DIR
# or /tmp/evsel-wine. When done with Wine, stop its server:
#     WINEPREFIX=DIR/prefix /usr/lib/wine/wineserver64 -k
set -eu

dir=${1:-${EVSEL_WINE_DIR:-/tmp/evsel-wine}}
wine=/usr/lib/wine/wine64
wineserver=/usr/lib/wine/wineserver64

if ! [ -x "$wine" ] || ! command -v x86_64-w64-mingw32-ld >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "wine-setup: wine64 and binutils-mingw-w64-x86-64 are missing and installing them needs root" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends wine64 binutils-mingw-w64-x86-64 >/dev/null
fi

mkdir -p "$dir/bin" "$dir/build"
dir=$(cd "$dir" && pwd)
export WINEPREFIX="$dir/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY

# 2. The prefix. wineboot --init is what the first wine run would do anyway;
# doing it here keeps its minute-long first-run cost out of the first test.
sys32="$WINEPREFIX/drive_c/windows/system32"
if ! [ -f "$WINEPREFIX/system.reg" ] || ! [ -d "$sys32" ]; then
	"$wine" wineboot --init >/dev/null 2>&1 || true
	"$wineserver" -w
fi
[ -d "$sys32" ] || { echo "wine-setup: wineboot did not create $sys32" >&2; exit 1; }

# 3. The bcryptprimitives.dll forwarder, linked from an empty object and a
# .def file whose only export is a forward to another DLL.
if ! [ -f "$sys32/bcryptprimitives.dll" ]; then
	printf 'LIBRARY bcryptprimitives.dll\nEXPORTS\n\tProcessPrng = advapi32.SystemFunction036\n' >"$dir/build/bcryptprimitives.def"
	printf '\t.text\n' >"$dir/build/empty.s"
	x86_64-w64-mingw32-as -o "$dir/build/empty.o" "$dir/build/empty.s"
	x86_64-w64-mingw32-ld --shared -e 0 -o "$dir/build/bcryptprimitives.dll" \
		"$dir/build/empty.o" "$dir/build/bcryptprimitives.def"
	cp "$dir/build/bcryptprimitives.dll" "$sys32/bcryptprimitives.dll"
fi

# 4. The exec wrapper go test looks for on PATH. The binary's output goes
# through a file, not straight into go test's pipe: the first Wine process of
# a session starts wineserver and Wine's services (winedevice.exe, ...), and
# they inherit that process's stdout. Holding go test's pipe open, they made
# it wait 30 s after a test binary had exited and then fail the package with
# "Test I/O incomplete" (2 of 10 loaded CI-like runs). go test reads a test
# binary's output only after it exits anyway, so nothing is lost but
# streaming; a signal (go test's timeout) stops the binary and still prints
# what it wrote.
cat >"$dir/bin/go_windows_amd64_exec.new" <<EOF
#!/bin/sh
# Runs a Windows binary built by go test under Wine (see .ci/wine-setup.sh).
export WINEPREFIX="$WINEPREFIX" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
out=\$(mktemp) || exit 1
$wine "\$@" >"\$out" 2>&1 </dev/null &
pid=\$!
trap 'kill -TERM \$pid 2>/dev/null' INT TERM QUIT
while :; do
	wait \$pid
	rc=\$?
	kill -0 \$pid 2>/dev/null || break # wait was interrupted by a signal
done
cat "\$out"
rm -f "\$out"
exit \$rc
EOF
chmod +x "$dir/bin/go_windows_amd64_exec.new"
mv "$dir/bin/go_windows_amd64_exec.new" "$dir/bin/go_windows_amd64_exec"

echo "PATH=$dir/bin:\$PATH"
