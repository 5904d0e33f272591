import BuildcatFarm
import Testing

@Suite struct FrameSpecTests {
    @Test func theOriginalSyntax() throws {
        #expect(try FrameSpec("1,10-13,20-30:5").frames == [1, 10, 11, 12, 13, 20, 25, 30])
        #expect(try FrameSpec("5").frames == [5])
        #expect(try FrameSpec(" 3 , 1-2 ").frames == [3, 1, 2])
        #expect(try FrameSpec("1-3,2-4").frames == [1, 2, 3, 4])  // each frame once
        #expect(try FrameSpec("-5--3").frames == [-5, -4, -3])
    }

    @Test(arguments: ["", "1,,2", "a", "5-1", "1-10:0", "3:2", "1-x", "1-2000000"])
    func mistakesAreRefused(text: String) {
        #expect(throws: FrameSpecError.self) { try FrameSpec(text) }
    }

    @Test func chunks() throws {
        #expect(try FrameSpec("1-7").chunks(of: 3) == [[1, 2, 3], [4, 5, 6], [7]])
        #expect(try FrameSpec("1-2").chunks(of: 10) == [[1, 2]])
    }
}
