fn main() {
    grade_kit::main(vec![])
}
