// The Android app. One build flavour per ExecuTorch backend (the backend is fixed in each .pte
// and each flavour ships its runtime build); LiteRT (CPU and GPU) is in every flavour.
plugins {
    alias(libs.plugins.android.application)
}

android {
    namespace = "org.mpkit.bench"
    compileSdk = libs.versions.compileSdk.get().toInt()

    defaultConfig {
        applicationId = "org.mpkit.bench" // the package the benchmark harness starts
        minSdk = libs.versions.minSdk.get().toInt() // core reads bundles with java.nio.file (26)
        targetSdk = libs.versions.targetSdk.get().toInt()
        versionCode = 1
        versionName = "0.1.0"
        ndk {
            abiFilters += listOf("arm64-v8a", "x86_64")
        }
    }

    flavorDimensions += "executorch"
    productFlavors {
        create("xnnpack") {
            dimension = "executorch"
        }
        create("vulkan") {
            dimension = "executorch"
        }
        create("qnn") {
            dimension = "executorch"
            ndk {
                abiFilters.clear()
                abiFilters += "arm64-v8a" // the QNN runtime is built for arm64 only
            }
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

dependencies {
    implementation(project(":core"))
    implementation(libs.kotlinx.coroutines.android)
    implementation(libs.litert)
    implementation(libs.litert.gpu)
    "xnnpackImplementation"(libs.executorch.android)
    "vulkanImplementation"(libs.executorch.android.vulkan)
    "qnnImplementation"(libs.executorch.android.qnn)
}
