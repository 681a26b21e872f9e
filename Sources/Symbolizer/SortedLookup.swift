extension Array {
    /// In an array sorted by `start`, the indices of the elements that start at or below
    /// `address`, nearest first, at most `limit` of them: the candidates for the element whose
    /// range contains `address` (a look-back, because a large range may enclose smaller ones).
    func candidates(startingAtOrBelow address: UInt64, limit: Int, start: (Element) -> UInt64) -> StrideThrough<Int> {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if start(self[middle]) <= address { low = middle + 1 } else { high = middle }
        }
        return stride(from: low - 1, through: Swift.max(0, low - limit), by: -1)
    }
}
