// swiftsites: a Swift program whose allocations are known exactly, for the
// end-to-end tests of programs written in Swift. Lines marked SITE/CALL are
// looked up by the tests.
//
// makeList creates 50 objects of 32 bytes (a class instance: 16 bytes of
// header, two stored properties) and keeps them in a global list; makeBuffer
// keeps one raw buffer of 3000 bytes; makeTable keeps an array of 100 Ints (832 bytes: 32 of
// header), which Swift's standard library allocates.
#if canImport(Glibc)
    import Glibc
#endif

final class Node {
    let value: Int
    let next: Node?

    init(value: Int, next: Node?) {
        self.value = value
        self.next = next
    }
}

@inline(never)
func makeList(_ count: Int) -> Node? {
    var head: Node? = nil
    for value in 0..<count {
        head = Node(value: value, next: head)  // SITE node
    }
    return head
}

@inline(never)
func makeBuffer(_ bytes: Int) -> UnsafeMutableRawPointer {
    UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)  // SITE buffer
}

@inline(never)
func makeTable(_ count: Int) -> [Int] {
    [Int](repeating: 7, count: count)  // SITE table
}

let list = makeList(50)  // CALL list
let kept = makeBuffer(3000)  // CALL kept
let table = makeTable(100)  // CALL table
var sum = 0
var node = list
while let current = node {
    sum += current.value
    node = current.next
}
exit(sum == 1225 && table.count == 100 ? 0 : 1)
