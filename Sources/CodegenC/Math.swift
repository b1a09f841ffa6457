#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// libm for constant folding, under names that do not clash with the DSL functions of the same names.
func foldExp(_ x: Double) -> Double { exp(x) }
func foldLog(_ x: Double) -> Double { log(x) }
func foldLog1p(_ x: Double) -> Double { log1p(x) }
func foldPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
