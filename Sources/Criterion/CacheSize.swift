#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The CPU's cache sizes, as the operating system reports them, for the schedules that keep a working set
/// in cache.
enum CacheSize {
    /// Bytes of L2 cache per core: what the OS reports, or 1 MiB where it reports nothing plausible.
    static let level2: Int = {
        let fallback = 1 << 20
        #if canImport(Glibc)
        let bytes = sysconf(Int32(_SC_LEVEL2_CACHE_SIZE))
        #elseif canImport(Darwin)
        var bytes = 0
        var size = MemoryLayout<Int>.size
        if sysctlbyname("hw.l2cachesize", &bytes, &size, nil, 0) != 0 { bytes = 0 }
        #else
        let bytes = 0
        #endif
        return (64 << 10...(64 << 20)).contains(bytes) ? bytes : fallback
    }()
}
