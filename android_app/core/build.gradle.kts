// Pure Kotlin/JVM: the manifest, the benchmark protocol, frame statistics (no android.*).
// CI here builds and tests it with scripts/kotlin.sh (same compiler version, -Werror).
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
    compilerOptions {
        allWarningsAsErrors = true
    }
}

dependencies {
    compileOnly(libs.android.json) // Android provides org.json at run time
    testImplementation(libs.android.json)
    testImplementation(libs.kotlin.test.junit5)
    testImplementation(platform(libs.junit.bom))
    testImplementation(libs.junit.jupiter)
    testRuntimeOnly(libs.junit.platform.launcher)
}

tasks.test {
    useJUnitPlatform()
    // The shared fixtures, also read by the Python tests.
    systemProperty("mpkit.testdata", rootProject.file("testdata").absolutePath)
}
